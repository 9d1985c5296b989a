"""Renderers: pure functions of the results model (bench/report/model.py and the model modules beside it) into
Markdown, LaTeX, CSV and PNG. They format and decide nothing: no statistic, no rank, no verdict is computed here
(tests/bench/report/render/test_pure.py holds them to their imports)."""
