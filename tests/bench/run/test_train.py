import torch
from torch.optim.swa_utils import AveragedModel

from bench.run.train import EMA, flatten_parameters
from methods.backbone.nets import VelocityMLP


def small_net() -> torch.nn.Module:
    return VelocityMLP(6, 4, 16, 2, 8)


def test_flatten_parameters_makes_every_parameter_a_view_of_one_buffer():
    net = small_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    flat = flatten_parameters(net)
    assert flat.numel() == sum(p.numel() for p in net.parameters())
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])
    flat.zero_()
    assert all(p.abs().sum() == 0 for p in net.parameters())


def test_flattened_parameters_still_train():
    net = small_net()
    flatten_parameters(net)
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.1, fused=True)
    x, t, c = torch.randn(8, 6), torch.rand(8), torch.randn(8, 4)
    before = net.inp.weight.clone()
    (net(x, t, c) - 1).square().sum().backward()
    optimizer.step()
    assert not torch.equal(net.inp.weight, before)


def ema_decay_fn(decay: float):
    def update(averaged, current, n):
        step = float(n)
        torch._foreach_lerp_(averaged, current, 1.0 - min(decay, (1.0 + step) / (10.0 + step)))
    return update


def test_ema_matches_torch_averaged_model_with_the_same_warm_up():
    torch.manual_seed(0)
    net = small_net()
    reference = AveragedModel(net, multi_avg_fn=ema_decay_fn(0.9), use_buffers=True)
    ema = EMA(net, 0.9)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3)
    for _ in range(6):
        optimizer.zero_grad()
        (net(torch.randn(8, 6), torch.rand(8), torch.randn(8, 4)) - 1).square().sum().backward()
        optimizer.step()
        reference.update_parameters(net)
        ema.update_parameters(net)
    ours, theirs = ema.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys()
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=1e-7)
    assert not torch.equal(ema.module.inp.weight, net.inp.weight)  # it lags the trained weights


def test_ema_state_dict_round_trip_keeps_the_flat_link():
    net = small_net()
    ema = EMA(net, 0.5)
    ema.update_parameters(net)
    state = {k: v.clone() for k, v in ema.state_dict().items()}
    restored = EMA(small_net(), 0.5)
    restored.load_state_dict(state)
    assert int(restored.n_averaged) == 1
    restored.target.zero_()
    assert restored.module.out.weight.abs().sum() == 0


def bf16_setup(precision: str):
    from bench.core.config import resolve
    from bench.run.train import make_optimizer
    from methods import METHODS
    from tasks import SUITES

    cfg = resolve("gaussian_mixture", "muni", 0, "smoke", [f"train.precision={precision}"])
    suite = SUITES.get("gaussian_mixture")(cfg.data)
    torch.manual_seed(0)
    method = METHODS.get("muni")(suite.specs, cfg.model, cfg.flow, cfg.options)
    params = list(method.parameters())
    optimizer, schedule = make_optimizer(params, cfg.train)
    return cfg, method, params, optimizer, schedule, suite.train_batches(cfg.train.batch_size, "cpu")


def test_bf16_precision_runs_the_forward_pass_in_bf16_and_keeps_weights_and_updates_in_fp32():
    from bench.run.train import training_step

    outputs = {}
    for precision in ("fp32", "bf16"):
        cfg, method, params, optimizer, schedule, batches = bf16_setup(precision)
        seen: list[torch.dtype] = []
        hook = method.backbone.prior.velocity.inp.register_forward_hook(
            lambda m, a, out, seen=seen: seen.append(out.dtype))
        terms = training_step(method, next(batches), "joint", optimizer, schedule, params, cfg.train.grad_clip,
                              None, 0, cfg.train.precision)
        hook.remove()
        assert seen == [torch.bfloat16 if precision == "bf16" else torch.float32]
        assert all(p.dtype == torch.float32 and (p.grad is None or p.grad.dtype == torch.float32) for p in params)
        assert torch.isfinite(terms["loss"])
        outputs[precision] = (float(terms["loss"].detach()), torch.cat([p.detach().flatten() for p in params]))
    (loss32, weights32), (loss16, weights16) = outputs["fp32"], outputs["bf16"]
    assert loss16 != loss32 and abs(loss16 - loss32) < 0.05 * abs(loss32)  # the same step, in lower precision
    assert not torch.equal(weights16, weights32)


def test_counting_flops_during_training_counts_every_stage_and_moves_the_weights_by_rounding_only():
    import dataclasses

    from bench.core.config import resolve
    from bench.run.train import train
    from methods.base import METHODS
    from tasks import SUITES

    cfg = resolve("gaussian_mixture", "shala", 0, "smoke")  # two stages: an autoencoder, then the prior
    suite = SUITES.get("gaussian_mixture")(cfg.data)
    results = []
    for log_every in (1, 1000):  # every step counted, or only each stage's first and the last
        torch.manual_seed(0)
        method = METHODS.get("shala")(suite.specs, cfg.model, cfg.flow, cfg.options)
        train_cfg = dataclasses.replace(cfg.train, steps=12, log_every=log_every, checkpoint_every=0)
        ema, summary = train(method, suite, train_cfg, torch.device("cpu"))
        results.append((torch.cat([p.flatten() for p in ema.module.parameters()]), summary))
    (every, counted_all), (few, counted_few) = results
    # the counter reorders a few sums of the backward pass (the counted steps are fixed, so records reproduce)
    assert torch.allclose(every, few, rtol=0, atol=1e-5)
    assert sum(n for _, n in counted_all.counted_flops.values()) == 12
    assert set(counted_few.counted_flops) == set(counted_few.stage_steps) == {s.name for s in method.stages}
    assert counted_few.flops > 0 and abs(counted_few.flops / counted_all.flops - 1) < 0.01
