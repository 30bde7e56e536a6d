"""The SHA-256 of every shipped artefact's payload: written by ``python -m derive.backprop.shipped``, never by
hand. :func:`derive.core.shipped.load` unpickles a payload only when its digest is recorded here."""

DIGESTS = {
    'derive.backprop.general_rule:general_rule': '2d35bb5a46c904bc6deea4da653aad22329f51a8d73f9f5d7bf623e96516a23f',
}
