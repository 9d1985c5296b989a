"""Image networks: shapes, one shared trunk and U-Net across image modalities, and a decoder that learns."""
import pytest
import torch

from methods.backbone.config import FlowConfig, ModelConfig
from methods.backbone.modality import ModalitySpec, build_decoders, build_encoders

SPECS = [ModalitySpec(f"m{i}", "image", (3, 16, 16)) for i in (1, 2, 3)] + [
    ModalitySpec("digit", "categorical", (), 10)]
CFG = ModelConfig(latent_dim=6, encoder_width=8, encoder_blocks=1, decoder_width=8, decoder_blocks=1, time_dim=16)
FLOW = FlowConfig(decoder_steps=3)


def test_encoders_share_one_trunk_with_their_own_heads():
    encoders = build_encoders(SPECS, 12, CFG)
    assert encoders["m1"].trunk is encoders["m3"].trunk
    assert encoders["m1"].inp is not encoders["m2"].inp and encoders["m1"].head is not encoders["m2"].head
    x = torch.randn(5, 3, 16, 16)
    assert encoders["m2"](x).shape == (5, 12)
    assert encoders["digit"](torch.tensor([1, 2, 3, 4, 5])).shape == (5, 12)
    assert not torch.allclose(encoders["m1"](x), encoders["m2"](x))  # modality-specific heads and embedding


def test_decoders_share_one_unet_and_sample_images():
    decoders = build_decoders(SPECS, 6, CFG, FLOW)
    assert decoders["m1"].unet is decoders["m2"].unet and decoders["m2"].index == 1
    z = torch.randn(4, 6)
    x = torch.randn(4, 3, 16, 16)
    assert decoders["m3"].loss(x, z).shape == (4,)
    assert decoders["m3"].sample(z, 3).shape == (4, 3, 16, 16)
    assert decoders["digit"].sample(z, 3).shape == (4,)


def test_image_decoder_loss_decreases_on_a_tiny_overfit():
    torch.manual_seed(0)
    decoder = build_decoders(SPECS[:1], 6, CFG, FLOW)["m1"]
    z = torch.randn(8, 6)
    x = torch.tanh(z[:, :3])[:, :, None, None].expand(8, 3, 16, 16)  # one colour per sample, given by z
    optimizer = torch.optim.Adam(decoder.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = decoder.loss(x, z).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) < 0.5 * sum(losses[:10])


def test_image_modalities_must_agree_in_shape_and_need_the_flow_backbone():
    mixed = [ModalitySpec("a", "image", (3, 16, 16)), ModalitySpec("b", "image", (3, 8, 8))]
    with pytest.raises(ValueError, match="image modalities must share one square"):
        build_encoders(mixed, 4, CFG)
    classic = ModelConfig(backbone="classic", encoder_width=8, decoder_width=8)
    with pytest.raises(NotImplementedError, match="model.backbone=classic has no image decoder"):
        build_decoders(SPECS, 6, classic, FLOW)


def test_flop_counting_works_when_the_image_networks_run_without_gradients():
    """A frozen encoder (ShaLa's second stage) runs under no_grad inside the budget probe's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    encoders = build_encoders(SPECS, 12, CFG)
    decoders = build_decoders(SPECS, 6, CFG, FLOW)
    x = torch.randn(2, 3, 16, 16)
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            encoders["m1"](x)
            decoders["m2"].loss(x, torch.randn(2, 6))
    assert counter.get_total_flops() > 0
