"""FlowBind's defining properties: deterministic encode/decode, many-to-one as the mean of encoded anchors,
modalities of different widths through an exactly invertible lift, encoder heads trained only through the
anchor (t = 0) term, and no unconditional sampler."""
import pytest
import torch

from methods.backbone.modality import Batch, ModalitySpec
from methods.base import ConditioningError
from methods.flowbind import FlowBind, orthonormal_lift
from tests.methods.helpers import build

SPECS = [ModalitySpec("text", "vector", (6,)), ModalitySpec("image", "vector", (6,)),
         ModalitySpec("audio", "vector", (4,))]


def data(n: int = 5) -> Batch:
    return Batch({s.name: torch.randn(n, *s.shape) for s in SPECS})


def test_generation_is_deterministic_given_the_sources():
    method = build("flowbind", specs=SPECS)
    batch = data()
    first = method.generate(batch, ["text"], ["audio"])["audio"]
    assert first.shape == (5, 4)
    assert torch.equal(first, method.generate(batch, ["text"], ["audio"])["audio"])


def test_many_to_one_decodes_the_mean_of_the_encoded_anchors():
    method = build("flowbind", specs=SPECS)
    batch = data()
    with torch.no_grad():
        one = [method.conditional_latent(batch, [m]) for m in ("text", "audio")]
        both = method.conditional_latent(batch, ["text", "audio"])
    assert torch.allclose(both, (one[0] + one[1]) / 2)


def test_a_narrower_modality_is_lifted_by_an_exactly_invertible_map():
    lift = orthonormal_lift(4, 6)
    assert torch.allclose(lift @ lift.T, torch.eye(4), atol=1e-6)
    method = build("flowbind", specs=SPECS)
    x = torch.randn(3, 4)
    assert torch.allclose(method.backbone.lower("audio", method.backbone.lift("audio", x)), x, atol=1e-6)


def test_encoder_heads_learn_only_through_the_anchor_term():
    method = build("flowbind", FlowBind.Options(modality_dropout=0.0), specs=SPECS)
    batch = data(16)
    batch.present["audio"] = torch.zeros(16, dtype=torch.bool)  # pairs only: text-image
    terms = method.loss(batch)
    assert set(terms) == {"flow/text", "flow/image", "anchor/text", "anchor/image", "loss"}
    (terms["flow/text"] + terms["flow/image"]).backward(retain_graph=True)
    assert all(p.grad is None or not p.grad.any() for p in method.backbone.means.parameters())
    terms["anchor/text"].backward()
    assert any(p.grad is not None and p.grad.any() for p in method.backbone.means["image"].parameters())


def test_flowbind_has_no_unconditional_sampler():
    with pytest.raises(ConditioningError, match="flowbind cannot condition on nothing"):
        build("flowbind", specs=SPECS).sample_joint(3)
