"""The media section of a report page, in Markdown, from bench/report/media.py's model."""
from __future__ import annotations

from bench.report.media import Media, MediaValue
from bench.report.render.markdown import DASH
from bench.report.render.tables import Lines


def value_text(value: MediaValue) -> str:
    if value.mean is None:
        return value.status or DASH
    return f"{value.mean:.2f} ± {value.sd:.2f}" if value.sd is not None else f"{value.mean:.2f}"


def number(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def media_section(found: Media | None) -> Lines:
    if found is None:
        return []
    lines = ["## Media metrics (decoded media, scored by the paper's metrics)", "",
             "The methods' generated embeddings decoded into images, audio and captions and scored as the paper "
             "scores media (`--set media.weights=FILE`; tasks/image_text_audio/media.py): CLIPScore, CLAPScore and "
             "AIS in the paper's cells, beside the paper's numbers and the embedding-level judge win-rates of the same "
             "cells. 'skipped': a model or a test-file field was missing (listed below); 'unsupported': the method "
             "cannot do the task.", ""]
    header = ["Method"] + [f"{media_spec.label} {part}" for media_spec, _ in found.layout for part in
                           ("media", "paper", "embedding")]
    body = [[method] + [text for cell in found.cells[method]
                        for text in (value_text(cell.media), number(cell.paper), number(cell.embedding))]
            for method in found.methods]
    lines += [(header, body), ""]
    return lines + one_to_one_table(found) + agreement(found) + skipped_reasons(found)


def one_to_one_table(found: Media) -> Lines:
    if not found.one_to_one:
        return []
    header = ["Method"] + [f"{k.removeprefix('media:').replace('/one_to_one/', ' ')} {part}" for k in found.one_to_one
                           for part in ("", "paper")]
    body = [[method] + [text for cell in found.one_to_one_cells[method]
                        for text in (value_text(cell.media), number(cell.paper))] for method in found.methods]
    note = ["Fréchet distances below the paper's sample size are not comparable with its numbers (KID beside them "
            "in the records): " + "; ".join(found.not_comparable) + ".", ""] if found.not_comparable else []
    return ["### One-to-one (as in Tables 8 and 9)", "", (header, body), ""] + note


def agreement(found: Media) -> Lines:
    """Does the embedding-level judge predict the media metric? Over the items of each record, and over methods."""
    lines: list[str] = []
    if found.per_item:
        body = [[k.removeprefix("media:")] + [f"{by_method[m]:+.2f}" if m in by_method else DASH
                                              for m in found.methods] for k, by_method in found.per_item.items()]
        lines += ["### Embedding-level judge against media metric, per item (Spearman ρ, mean over seeds)", "",
                  (["cell", *found.methods], body), ""]
    if any(rho is not None for _, _, rho in found.across):
        body = [[label, str(n), DASH if rho is None else f"{rho:+.2f}"] for label, n, rho in found.across]
        lines += ["### Embedding-level judge against media metric, across methods (Spearman ρ of the means)", "",
                  (["cell", "methods", "ρ"], body), ""]
    return lines


def skipped_reasons(found: Media) -> Lines:
    if not found.skipped:
        return []
    return ["### Skipped, and what was missing", ""] + [
        f"- {missing}: {n} cell{'s' if n > 1 else ''}" for missing, n in found.skipped.items()] + [""]
