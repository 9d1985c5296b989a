import torch

from metrics.bootstrap import RowMean, draws, interval


def identity_rows(preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return preds[:, 0]


def metric_of(rows: torch.Tensor, chunks: int = 1) -> RowMean:
    metric = RowMean(identity_rows)
    for part in rows.chunk(chunks):
        metric.update(part[:, None], part[:, None])
    return metric


def test_the_value_is_the_row_mean_and_the_interval_its_sampling_noise():
    rows = torch.randn(400, generator=torch.Generator().manual_seed(1)).double()
    metric = metric_of(rows, chunks=3)
    assert abs(float(metric.compute()) - float(rows.mean())) < 1e-12
    low, high = interval([metric.replicates()])
    assert low < float(rows.mean()) < high
    half = 1.96 * float(rows.std()) / 400 ** 0.5  # the normal interval of a mean
    assert abs((high - low) / 2 - half) < 0.15 * half


def test_the_same_rows_are_resampled_alike_so_paired_directions_stay_paired():
    rows = torch.randn(300, generator=torch.Generator().manual_seed(2)).double()
    low, high = interval([metric_of(rows).replicates(), metric_of(-rows).replicates()])
    assert abs(low) < 1e-12 and abs(high) < 1e-12  # the mean of x and -x is 0 in every resample
    assert torch.equal(draws(300), draws(300))


def test_a_constant_score_has_a_zero_width_interval():
    low, high = interval([metric_of(torch.full((50,), 7.0, dtype=torch.float64)).replicates()])
    assert low == high == 7.0
