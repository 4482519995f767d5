"""examples/char_rnn.py end to end (fast mode, as a subprocess) and the bundled text it trains on."""
import gzip
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from nbflow.datasets import load_devils_dictionary, load_text, text as text_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "char_rnn.py")


def run_example(*args, timeout=600):
    proc = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def losses_logged(out):
    return [float(m) for m in re.findall(r"iteration +\d+/\d+  loss ([0-9.]+)", out)]


def samples_printed(out):
    return re.findall(r"^\[temperature ([0-9.]+)\] (.*)$", out, flags=re.M)


# -- the example ------------------------------------------------------------------------

@pytest.mark.parametrize("rnn", ["dynamic", "static"])
def test_fast_run_trains_and_samples(rnn):
    out = run_example("--fast", "--rnn", rnn, "--seed", "3")
    m = re.search(r"unigram character entropy: ([0-9.]+) nats", out)
    assert m, out
    entropy = float(m.group(1))
    assert 2.5 < entropy < 3.2, out  # lowercase English, the first 20,000 characters
    assert "tf.nn.%s_rnn" % rnn in out
    logged = losses_logged(out)
    assert len(logged) == 4, out  # every 10 of 40 iterations
    m = re.search(r"first loss ([0-9.]+), final loss ([0-9.]+)", out)
    first, final = float(m.group(1)), float(m.group(2))
    assert abs(first - np.log(50)) < 0.3, out  # ~uniform over the 50 characters at the start
    assert final < first - 0.5, out
    assert logged[-1] < logged[0], out
    samples = samples_printed(out)
    assert [t for t, _ in samples] == ["0.2", "0.5", "1.0"] * 2, out  # after 20 and after 40 iterations
    assert len(re.findall(r"^--- samples after (20|40) iterations, seed: ", out, flags=re.M)) == 2, out
    for _, s in samples:
        assert len(s) > 0


def test_main_returns_samples_of_the_requested_length(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        import char_rnn
    finally:
        sys.path.pop(0)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 200, encoding="utf-8")
    result = char_rnn.main(["--text", str(corpus), "--iterations", "30", "--batch-size", "16", "--hidden", "16",
                            "--maxlen", "12", "--sample-every", "0", "--sample-length", "25",
                            "--log-every", "10", "--temperatures", "0.5", "1.0", "--seed", "1"])
    assert set(result["samples"]) == {0.5, 1.0}
    vocab = set("the cat sat on the mat. ")
    for s in result["samples"].values():
        assert len(s) == 25 and set(s) <= vocab
    assert len(result["losses"]) == 30
    # a periodic text: the model learns it far below its unigram entropy (~2.2 nats)
    assert result["entropy"] > 2.0
    assert result["final_loss"] < result["entropy"] - 0.3


def test_sample_next_temperature():
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        import char_rnn
    finally:
        sys.path.pop(0)
    rng = np.random.default_rng(0)
    log_p = np.log(np.array([[0.7, 0.2, 0.1]] * 20000))
    draws = char_rnn.sample_next(log_p, 1.0, rng)
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / len(draws), [0.7, 0.2, 0.1], atol=0.015)
    cold = char_rnn.sample_next(log_p, 0.05, rng)
    assert (cold == 0).mean() > 0.999


# -- the text loader --------------------------------------------------------------------

def test_devils_dictionary_contents():
    raw = load_devils_dictionary(lowercase=False)
    assert raw.startswith("PREFACE\n\n_The Devil's Dictionary_ was begun in a weekly paper in 1881")
    assert "00-database" not in raw and "wiretap" not in raw.lower()  # no dictd headers, no Debian notice
    assert "ABASEMENT, n.  A decent and customary mental attitude" in raw
    assert raw.rstrip().endswith("the domestic cow sheds its horn every two years.")
    assert "abcdefghijklmnopqrstuvwxyz" not in raw  # the dictd alphabet entry at the end is dropped
    assert len(raw) == 382679
    assert all(ord(c) < 128 for c in raw)
    assert len(set(raw)) == 83
    low = load_devils_dictionary()
    assert low == raw.lower()
    assert len(set(low)) == 57
    assert low.startswith("preface\n\n_the devil's dictionary_")


def test_bundled_file_is_gzip_package_data():
    path = text_data.DEVILS_DICTIONARY_PATH
    assert os.path.isfile(path) and path.endswith(".txt.gz")
    with gzip.open(path, "rb") as f:
        assert f.read(7) == b"PREFACE"
    # shipped with the package: pyproject's package-data for nbflow.datasets covers data/*
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        pyproject = f.read()
    assert re.search(r'"nbflow\.datasets" = \["data/\*"\]', pyproject)
    with open(os.path.join(os.path.dirname(path), "PROVENANCE.md")) as f:
        provenance = f.read()
    assert "dict-devil" in provenance and "1.0-13.1" in provenance and "public domain" in provenance.lower()


def test_load_text_decodes_and_normalizes(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes("Caf\u00e9 \u201cNo\u00ebl\u201d \u2014 na\u00efve\r\nEnd".encode("utf-8"))
    assert load_text(p) == 'cafe "noel" -- naive\nend'
    assert load_text(p, lowercase=False) == 'Cafe "Noel" -- naive\nEnd'
    assert load_text(p, lowercase=False, ascii=False) == "Caf\u00e9 \u201cNo\u00ebl\u201d \u2014 na\u00efve\nEnd"
    latin = tmp_path / "l.txt.gz"
    with gzip.open(latin, "wb") as f:
        f.write("Gr\u00fc\u00dfe".encode("latin-1"))  # not valid UTF-8
    assert load_text(latin, lowercase=False) == "Grusse"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_text(tmp_path / "missing.txt")
    empty = tmp_path / "e.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_text(empty)
