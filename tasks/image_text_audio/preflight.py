"""What bench/run/plan.py checks of this suite's sources before any cell starts: a user's embedding files (the optional
val_*.npz too, where given) and FlowBind's layout (with val_tia.npz, where given) are read completely (finite
floating-point arrays, shapes, keys), and the media stage is refused where its judges' spaces are not the data's.
Kept apart from the suite, which does not import it: a check changes no number."""
from __future__ import annotations

import json
from pathlib import Path

from tasks.image_text_audio.data import ImageTextAudioData, read_files
from tasks.image_text_audio.flowbind_layout import read_flowbind

# the media stage scores decoded media against the test set's own image and audio embeddings with these judges
# (tasks/image_text_audio/media.py), so the data's encoders must be theirs
JUDGES = {"image": "clip", "audio": "clap"}


def check(data: ImageTextAudioData, media_weights: str) -> None:
    """ValueError naming the first problem."""
    root = Path(data.root).expanduser()
    if data.source == "files":
        read_files(root)
    elif data.source == "flowbind":
        read_flowbind(root, data.n_test)
    if media_weights:
        check_judge_spaces(data, root)


def check_judge_spaces(data: ImageTextAudioData, root: Path) -> None:
    if data.source != "files":
        raise ValueError(f"media.weights needs data.source=files: the media stage's judges (CLIP, CLAP) compare "
                         f"decoded media with the test set's embeddings, and data.source={data.source} has none in "
                         "their spaces")
    encoders = json.loads((root / "meta.json").read_text())["encoders"]
    wrong = [f"{m} '{encoders[m]}'" for m, judge in JUDGES.items() if judge not in str(encoders[m]).lower()]
    if wrong:
        raise ValueError(f"media.weights: the judges score image with CLIP and audio with CLAP, so the test "
                         f"embeddings must be theirs; {root / 'meta.json'} names {' and '.join(wrong)}")


def tuple_floats(data: ImageTextAudioData) -> int:
    """Values in one tuple at most (a triplet): the three embeddings."""
    return data.text_dim + data.image_dim + data.audio_dim
