"""The SHA-256 of every shipped artefact's payload: written by ``python -m derive.backprop.shipped``, never by
hand. :func:`derive.core.shipped.load` unpickles a payload only when its digest is recorded here."""

DIGESTS = {
    'derive.backprop.batch_index:index_forms': '8f68d2408f0e616964195551a92dc6403e790eb890b4f04582d989b39b1a3fac',
    'derive.backprop.general_rule:general_rule': 'f68524af48b0f16ad19516f83f1116cd00f0f6b51bf99a8d7c4c6718bc5f386f',
    'derive.backprop.model_functions:activations': '6845b756bde631956f1128248392f533295eff447519e2f3fad0d0d86e5564b3',
}
