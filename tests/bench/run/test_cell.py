import torch

from bench.core.config import resolve
from bench.run.cell import CHECKS, quick_checks
from bench.run.train import EMA
from methods.base import METHODS
from tasks import SUITES


def test_the_quick_checks_draw_the_same_noise_every_time_so_a_curve_moves_only_with_the_model():
    cfg = resolve("gaussian_mixture", "muni", 0, "smoke")
    suite = SUITES.get("gaussian_mixture")(cfg.data)
    method = METHODS.get("muni")(suite.specs, cfg.model, cfg.flow, cfg.options)
    ema = EMA(method, cfg.train.ema_decay)
    check = quick_checks(suite, cfg, steps=16, device=torch.device("cpu"))
    assert check(3, ema) is None and len(CHECKS) == 8  # only at each eighth of the 16 steps
    torch.manual_seed(1)
    first = check(16, ema)
    torch.manual_seed(2)  # another state of the cell's own random stream
    again = check(16, ema)
    assert first["metrics"] == again["metrics"] and first["se"] == again["se"]
    assert all(se > 0 for se in first["se"].values())
    with torch.no_grad():
        for parameter in ema.module.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))  # output layers start at zero
    assert check(16, ema)["metrics"] != first["metrics"]  # a changed model moves the curve
