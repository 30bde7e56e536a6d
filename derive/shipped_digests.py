"""The SHA-256 of every shipped artefact's payload: written by ``python -m derive.backprop.shipped``, never by
hand. :func:`derive.core.shipped.load` unpickles a payload only when its digest is recorded here."""

DIGESTS = {
    'derive.backprop.general_rule:general_rule': '48d74cdac628062a237d9a12073ce2ff2a36787f51574f012672f34b595ed8fc',
}
