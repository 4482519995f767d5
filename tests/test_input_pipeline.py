"""TF 1.x's queue-based input: TextLineReader, decode_csv, string_input_producer,
tf.train.batch, QueueRunner and Coordinator (hunkim's lab-04-4 reads its CSV so)."""
import threading

import numpy as np
import pytest

import nbflow as tf


@pytest.fixture
def csv_files(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x,y,label\n1,2.5,0\n3,4.5,1\n")
    b = tmp_path / "b.csv"
    b.write_bytes(b"x,y,label\r\n5,6.5,1\r\n")
    return [str(a), str(b)]


def test_reader_cycles_through_the_files_with_keys(csv_files):
    filename_queue = tf.train.string_input_producer(csv_files, shuffle=False, name="filename_queue")
    reader = tf.TextLineReader(skip_header_lines=1)
    key, value = reader.read(filename_queue)
    assert filename_queue.name == "filename_queue"
    summaries = [s.op.name for s in tf.get_collection(tf.GraphKeys.SUMMARIES)]
    assert summaries == ["filename_queue/fraction_of_32_full"]
    with tf.Session() as sess:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess=sess, coord=coord)
        got = [sess.run([key, value]) for _ in range(6)]
        coord.request_stop()
        coord.join(threads)
    assert [k for k, _ in got] == [(csv_files[0] + ":2").encode(), (csv_files[0] + ":3").encode(),
                                   (csv_files[1] + ":2").encode()] * 2
    assert [v for _, v in got] == [b"1,2.5,0", b"3,4.5,1", b"5,6.5,1"] * 2
    assert all(not t.is_alive() for t in threads)


def test_decode_csv_types_defaults_and_errors():
    records = tf.placeholder(tf.string, [None])
    cols = tf.decode_csv(records, record_defaults=[[0], [-1.0], ["none"], tf.constant([], tf.int64)])
    assert [c.dtype for c in cols] == [tf.int32, tf.float32, tf.string, tf.int64]
    quoted = tf.decode_csv(records, [[""], [0.0]], select_cols=[1, 2])
    na = tf.decode_csv(records, [[7], [0.5]], na_value="NA")
    with tf.Session() as sess:
        a, b, c, d = sess.run(cols, {records: ["1,2.5,x,9", ",,,10", '3,4,"a,b",11']})
        np.testing.assert_array_equal(a, [1, 0, 3])
        np.testing.assert_allclose(b, [2.5, -1.0, 4.0])
        assert list(c) == [b"x", b"none", b"a,b"] and list(d) == [9, 10, 11]
        q1, q2 = sess.run(quoted, {records: ['0,"hello, world",1.5']})
        assert list(q1) == [b"hello, world"] and list(q2) == [1.5]
        n1, n2 = sess.run(na, {records: ["NA,NA", "2,3"]})
        np.testing.assert_array_equal(n1, [7, 2])
        np.testing.assert_allclose(n2, [0.5, 3.0])
        with pytest.raises(tf.errors.InvalidArgumentError, match="Field 3 is required but missing in record 0"):
            sess.run(cols, {records: ["1,2,x,"]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="Expect 4 fields but have 2 in record 0"):
            sess.run(cols, {records: ["1,2"]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="Field 1 in record 0 is not a valid float: abc"):
            sess.run(cols, {records: ["1,abc,x,1"]})
    with pytest.raises(ValueError, match="select_cols is not strictly increasing"):
        tf.decode_csv(records, [[0], [0]], select_cols=[2, 1])


def test_batch_feeds_a_model_as_in_lab_04_4(csv_files):
    filename_queue = tf.train.string_input_producer(csv_files, shuffle=False, name="filename_queue")
    _, value = tf.TextLineReader(skip_header_lines=1).read(filename_queue)
    xy = tf.decode_csv(value, record_defaults=[[0.], [0.], [0.]])
    train_x_batch, train_y_batch = tf.train.batch([xy[0:-1], xy[-1:]], batch_size=4)
    assert train_x_batch.shape.as_list() == [4, 2] and train_y_batch.shape.as_list() == [4, 1]
    assert "batch/fraction_of_32_full" in [s.op.name for s in tf.get_collection(tf.GraphKeys.SUMMARIES)]
    with tf.Session() as sess:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess=sess, coord=coord)
        xs, ys = sess.run([train_x_batch, train_y_batch])
        xs2, _ = sess.run([train_x_batch, train_y_batch])
        coord.request_stop()
        coord.join(threads)
    np.testing.assert_allclose(xs, [[1, 2.5], [3, 4.5], [5, 6.5], [1, 2.5]])
    np.testing.assert_allclose(ys, [[0], [1], [1], [0]])
    np.testing.assert_allclose(xs2[0], [3, 4.5])


def test_queue_runner_closes_its_queue_when_the_input_queue_closes():
    src = tf.FIFOQueue(10, tf.float32, shapes=[[]])
    fill = src.enqueue_many([[1.0, 2.0, 3.0]])
    close_src = src.close()
    dst = tf.FIFOQueue(10, tf.float32, shapes=[[]])
    qr = tf.train.QueueRunner(dst, [dst.enqueue(src.dequeue() * 10.0)] * 2)
    tf.train.add_queue_runner(qr)
    out = dst.dequeue()
    with tf.Session() as sess:
        sess.run(fill)
        sess.run(close_src)
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess, coord)
        assert len(threads) == 3  # two enqueue threads and the close-on-stop thread
        got = sorted(sess.run(out) for _ in range(3))
        with pytest.raises(tf.errors.OutOfRangeError, match="is closed and has insufficient elements"):
            sess.run(out)  # the last runner thread closed dst after src ran out
        coord.request_stop()
        coord.join(threads)
    assert got == [10.0, 20.0, 30.0]
    assert tf.train.queue_runner.QueueRunner is tf.train.QueueRunner


def test_coordinator_reports_errors_and_stragglers():
    coord = tf.train.Coordinator()
    assert not coord.should_stop()
    with coord.stop_on_exception():
        raise tf.errors.OutOfRangeError(None, None, "done")  # a clean stop
    assert coord.should_stop()
    coord.join([])
    coord.clear_stop()

    def worker():
        with coord.stop_on_exception():
            raise ValueError("boom")
    t = threading.Thread(target=worker)
    t.start()
    with pytest.raises(ValueError, match="boom"):
        coord.join([t])
    assert coord.joined

    coord2 = tf.train.Coordinator()
    stop = threading.Event()
    straggler = threading.Thread(target=stop.wait, name="straggler")
    straggler.start()
    coord2.request_stop()
    with pytest.raises(RuntimeError, match="Coordinator stopped with threads still running: straggler"):
        coord2.join([straggler], stop_grace_period_secs=0.01)
    stop.set()


def test_unsupported_options_say_so():
    with pytest.raises(NotImplementedError, match="num_epochs=2 is not supported"):
        tf.train.string_input_producer(["a.csv"], num_epochs=2)
    x = tf.constant([1.0, 2.0])
    with pytest.raises(NotImplementedError, match="dynamic_pad"):
        tf.train.batch([x], 2, dynamic_pad=True)
    with pytest.raises(NotImplementedError, match="allow_smaller_final_batch"):
        tf.train.batch([x], 2, allow_smaller_final_batch=True)
    with pytest.raises(ValueError, match="requires a non-null input tensor"):
        tf.train.string_input_producer([])
