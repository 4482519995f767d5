"""TensorFlow's error classes (tf.errors)."""


class OpError(Exception):
    """An error raised while running (or preparing to run) an operation."""

    error_code = 2

    def __init__(self, node_def, op, message, error_code=None):
        super().__init__(message)
        self.node_def = node_def
        self.op = op
        self.message = message
        if error_code is not None:
            self.error_code = error_code

    def __str__(self):
        return self.message


def _make(name, code):
    def __init__(self, node_def, op, message, *args):
        OpError.__init__(self, node_def, op, message, code)

    return type(name, (OpError,), {"__init__": __init__, "error_code": code})


CancelledError = _make("CancelledError", 1)
UnknownError = _make("UnknownError", 2)
InvalidArgumentError = _make("InvalidArgumentError", 3)
DeadlineExceededError = _make("DeadlineExceededError", 4)
NotFoundError = _make("NotFoundError", 5)
AlreadyExistsError = _make("AlreadyExistsError", 6)
PermissionDeniedError = _make("PermissionDeniedError", 7)
ResourceExhaustedError = _make("ResourceExhaustedError", 8)
FailedPreconditionError = _make("FailedPreconditionError", 9)
AbortedError = _make("AbortedError", 10)
OutOfRangeError = _make("OutOfRangeError", 11)
UnimplementedError = _make("UnimplementedError", 12)
InternalError = _make("InternalError", 13)
UnavailableError = _make("UnavailableError", 14)
DataLossError = _make("DataLossError", 15)
UnauthenticatedError = _make("UnauthenticatedError", 16)

OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16


# -- OSError -> the TF error class (TF's ErrnoToCode, tensorflow/core/platform/posix/error.cc) --

_ERRNO_CODES = {
    INVALID_ARGUMENT: ("EINVAL", "ENAMETOOLONG", "E2BIG", "EDESTADDRREQ", "EDOM", "EFAULT", "EILSEQ",
                       "ENOPROTOOPT", "ENOSTR", "ENOTSOCK", "ENOTTY", "EPROTOTYPE", "ESPIPE"),
    DEADLINE_EXCEEDED: ("ETIMEDOUT", "ETIME"),
    NOT_FOUND: ("ENODEV", "ENOENT", "ENXIO", "ESRCH"),
    ALREADY_EXISTS: ("EEXIST", "EADDRNOTAVAIL", "EALREADY"),
    PERMISSION_DENIED: ("EPERM", "EACCES", "EROFS"),
    FAILED_PRECONDITION: ("ENOTEMPTY", "EISDIR", "ENOTDIR", "EADDRINUSE", "EBADF", "EBUSY", "ECHILD",
                          "EISCONN", "ENOTBLK", "ENOTCONN", "EPIPE", "ESHUTDOWN", "ETXTBSY"),
    RESOURCE_EXHAUSTED: ("ENOSPC", "EDQUOT", "EMFILE", "EMLINK", "ENFILE", "ENOBUFS", "ENODATA", "ENOMEM",
                         "ENOSR", "EUSERS"),
    OUT_OF_RANGE: ("EFBIG", "EOVERFLOW", "ERANGE"),
    UNIMPLEMENTED: ("ENOSYS", "ENOTSUP", "EAFNOSUPPORT", "EPFNOSUPPORT", "EPROTONOSUPPORT",
                    "ESOCKTNOSUPPORT", "EXDEV"),
    UNAVAILABLE: ("EAGAIN", "ECONNREFUSED", "ECONNABORTED", "ECONNRESET", "EINTR", "EHOSTDOWN",
                  "EHOSTUNREACH", "ENETDOWN", "ENETRESET", "ENETUNREACH", "ENOLCK", "ENOLINK", "ENONET"),
    ABORTED: ("EDEADLK", "ESTALE"),
    CANCELLED: ("ECANCELED",),
}
_CLASSES = {c.error_code: c for c in (
    CancelledError, UnknownError, InvalidArgumentError, DeadlineExceededError, NotFoundError,
    AlreadyExistsError, PermissionDeniedError, ResourceExhaustedError, FailedPreconditionError, AbortedError,
    OutOfRangeError, UnimplementedError, InternalError, UnavailableError, DataLossError,
    UnauthenticatedError)}


def _errno_code(err_number):
    import errno

    for code, names in _ERRNO_CODES.items():
        if any(getattr(errno, n, None) == err_number for n in names):
            return code
    return UNKNOWN


def _from_os_error(err, context):
    """The TF error for an OSError, as TF's IOError(context, errno) builds it: the class
    from the errno (ENOSPC -> ResourceExhaustedError, EACCES -> PermissionDeniedError,
    ENOTDIR -> FailedPreconditionError, ...) and the message "<context>; <strerror>"."""
    reason = err.strerror or str(err)
    return _CLASSES[_errno_code(err.errno)](None, None, "%s; %s" % (context, reason))


class NotImplementedInNbflowError(NotImplementedError, AttributeError):
    """A TF 1.15 name nbflow does not have (yet). An AttributeError too, so that
    ``hasattr(tf.contrib, "X")`` and friends are False; raised by the module
    ``__getattr__`` of each public namespace with a message naming what is missing."""
