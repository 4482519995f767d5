"""tf.train: optimizers, learning-rate schedules, global step, Saver."""
from nbflow.train.optimizers import *  # noqa: F401,F403
from nbflow.train.learning_rate_decay import *  # noqa: F401,F403
from nbflow.train.training_util import *  # noqa: F401,F403
from nbflow.train.saver import *  # noqa: F401,F403
from nbflow.train.moving_averages import *  # noqa: F401,F403
from nbflow.train.coordinator import *  # noqa: F401,F403
from nbflow.train.queue_runner import *  # noqa: F401,F403
from nbflow.train.input import *  # noqa: F401,F403
from nbflow.train.cluster import *  # noqa: F401,F403  (ClusterSpec, Server; docs/DISTRIBUTED.md)
from nbflow.train.device_setter import replica_device_setter  # noqa: F401
from nbflow.train.monitored_session import *  # noqa: F401,F403  (MonitoredTrainingSession and its hooks)
from nbflow.train.sync_replicas import SyncReplicasOptimizer  # noqa: F401
from nbflow.train import queue_runner  # noqa: F401,E402  (tf.train.queue_runner.QueueRunner, ...)
from nbflow.train.checkpoint_v2 import Checkpoint, CheckpointManager  # noqa: F401,E402  (TF 2, eager)
