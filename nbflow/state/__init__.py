"""State that outlives one run: resources (variables, random streams, queues) behind handles."""
from nbflow.state.resources import (  # noqa: F401
    QueueResource, RandomStream, ResourceHandle, ResourceManager, VariableResource,
)
