"""One exception tree for qgate, rendered once as RFC 9457 ``application/problem+json``.

::

    QgateError                         (500, generic; never shows its message to callers)
    ├── ClientError                    (4xx; ``detail`` is shown to the caller)
    │   ├── BadRequest                 400
    │   │   ├── MalformedBody          400  (not JSON, or nested too deeply)
    │   │   ├── InvalidCursor          400  (a list cursor that list did not issue)
    │   │   └── IdempotencyKeyMissing  400
    │   ├── Unauthenticated            401  (``WWW-Authenticate: Bearer error="invalid_token"``)
    │   ├── InsufficientScope          403  (``WWW-Authenticate: error="insufficient_scope"``)
    │   ├── Forbidden                  403
    │   │   └── SelfApproval           403  (four eyes: the requester cannot approve)
    │   ├── NotFound                   404
    │   ├── MethodNotAllowed           405
    │   ├── Conflict                   409
    │   │   ├── IdempotencyKeyInFlight 409  (retryable)
    │   │   ├── BackendRejected        409  (permanent: the ERP/QMS refused; its message shown)
    │   │   ├── TransitionNotAllowed   409  (the record's state does not allow the change)
    │   │   └── ProcurementHoldActive  409  (purchasing of the supplier's item is on hold)
    │   ├── PreconditionFailed         412
    │   ├── UnprocessableContent       422  (``errors[]`` lists every validation error)
    │   │   ├── ValidationFailed       422
    │   │   └── IdempotencyKeyReused   422
    │   ├── ContentTooLarge            413
    │   ├── PreconditionRequired       428
    │   └── RateLimited                429  (``Retry-After`` and ``RateLimit`` headers)
    └── ServiceError                   (5xx)
        ├── DownstreamRejected         502  (the layer below answered something unusable)
        ├── DownstreamUnavailable      503  (retryable: the layer below or a backend is down)
        ├── DownstreamTimeout          504  (retryable)
        └── CapabilityUnsupported      501  (the connected ERP/QMS cannot do this; detail shown)

Services raise these, never HTTP exceptions; :func:`exception_handlers` turns them (and every
Litestar or unexpected exception) into problem+json. A 5xx never carries a stack trace, an
exception message from a library or a backend secret: only the generic title and the
correlation id to quote when reporting it.
"""

from shared.errors._handlers import exception_handlers
from shared.errors._relay import relayed_error
from shared.errors._render import problem_response, render_error
from shared.errors._tree import (
    PROBLEM_JSON,
    PROBLEM_TYPE_BASE,
    BackendRejected,
    BadRequest,
    CapabilityUnsupported,
    ClientError,
    Conflict,
    ContentTooLarge,
    DownstreamRejected,
    DownstreamTimeout,
    DownstreamUnavailable,
    FieldError,
    Forbidden,
    IdempotencyKeyInFlight,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    InsufficientScope,
    InvalidCursor,
    MalformedBody,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Problem,
    ProcurementHoldActive,
    QgateError,
    RateLimited,
    SelfApproval,
    ServiceError,
    TransitionNotAllowed,
    Unauthenticated,
    UnprocessableContent,
    ValidationFailed,
)
from shared.errors._validation import check_json_body, json_body_type

__all__ = [
    "PROBLEM_JSON",
    "PROBLEM_TYPE_BASE",
    "BackendRejected",
    "BadRequest",
    "CapabilityUnsupported",
    "ClientError",
    "Conflict",
    "ContentTooLarge",
    "DownstreamRejected",
    "DownstreamTimeout",
    "DownstreamUnavailable",
    "FieldError",
    "Forbidden",
    "IdempotencyKeyInFlight",
    "IdempotencyKeyMissing",
    "IdempotencyKeyReused",
    "InsufficientScope",
    "InvalidCursor",
    "MalformedBody",
    "MethodNotAllowed",
    "NotFound",
    "PreconditionFailed",
    "PreconditionRequired",
    "Problem",
    "ProcurementHoldActive",
    "QgateError",
    "RateLimited",
    "SelfApproval",
    "ServiceError",
    "TransitionNotAllowed",
    "Unauthenticated",
    "UnprocessableContent",
    "ValidationFailed",
    "check_json_body",
    "exception_handlers",
    "json_body_type",
    "problem_response",
    "relayed_error",
    "render_error",
]
