"""The paper's media metrics (spec image_text_audio §4): CLIPScore, CLAPScore, AIS, FID (or FD-CLIP), FAD and
CIDEr-D, scored on decoded images, audio and captions by judge models loaded from local paths only."""
