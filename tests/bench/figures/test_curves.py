import math

from bench.figures.curves import LearningLine, Panel, TuningLine, edge, learning_figure, tuning_figure

PNG = b"\x89PNG\r\n\x1a\n"
INF = math.inf


def test_the_tuning_figure_draws_lines_with_infinite_values_and_band_edges(tmp_path):
    lines = [TuningLine("muni", [1, 2, 3], [2.0, 1.5, 1.2], [2.0, 1.0, 1.0], [0.0, 0.0, 0.0], [INF, 2.0, 2.0]),
             TuningLine("mvae", [1, 2, 3], [INF, INF, INF], [3.0, 2.0, 2.0], [-INF, -INF, 1.0], [INF, INF, 3.0])]
    panels = [Panel("1→1 ↓", "best value", lines), Panel("2→1 ↓", "best value", lines[:1]),
              Panel("empty", "best value", [])]
    path = tuning_figure(panels, tmp_path / "tuning.png", "tuning curves")
    assert path == tmp_path / "tuning.png" and path.read_bytes().startswith(PNG)


def test_the_learning_figure_draws_lines_bands_and_the_rung_marker(tmp_path):
    steps = [10.0, 20.0, 30.0, 40.0]
    lines = [LearningLine("muni", steps, [3.0, 2.0, 1.0, 0.5], [2.5, 1.5, -0.5, 0.4], [3.5, 2.5, 2.5, 0.6], 30.0),
             LearningLine("mvae [train.lr=0.01]", steps, [1.0, 0.5, 0.0, 0.2], [math.nan] * 4, [math.nan] * 4)]
    path = learning_figure([Panel("a", "|value − oracle|", lines[:1]), Panel("b", "|value − oracle|", lines)],
                           tmp_path / "learning.png", "learning curves")
    assert path.read_bytes().startswith(PNG)


def test_nothing_to_draw_writes_nothing(tmp_path):
    assert tuning_figure([Panel("a", "y", [])], tmp_path / "t.png", "t") is None
    assert learning_figure([], tmp_path / "l.png", "l") is None
    assert not list(tmp_path.iterdir())


def test_a_band_edge_beyond_the_panel_runs_to_its_edge():
    assert edge(INF, 1.0, 5.0, log=False) == 5.0 and edge(-INF, 1.0, 5.0, log=False) == 1.0
    assert edge(-0.5, 0.1, 5.0, log=True) == 0.1 and edge(-0.5, -1.0, 5.0, log=False) == -0.5
    assert math.isnan(edge(None, 1.0, 5.0, log=False))
