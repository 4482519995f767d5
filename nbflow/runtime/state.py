"""What lives in a Session, not in the graph: its resources (variables, random
streams, queues; nbflow/state/resources.py) and the devices it places ops on."""
from nbflow.backends.devices import local_devices
from nbflow.state.resources import ResourceManager


class RuntimeState:
    def __init__(self, graph, config):
        self.graph = graph
        self.config = config
        #: every resource of the session, by handle
        self.resources = ResourceManager()
        #: the devices ops may be placed on; the host (CPU:0) first.
        self.local_devices = local_devices()
        for d in self.local_devices:  # a device reading the ConfigProto (the GPU: gpu_options' memory cap)
            configure = getattr(d, "configure", None)
            if configure is not None:
                configure(config)

    def devices(self):
        return [d.name for d in self.local_devices]
