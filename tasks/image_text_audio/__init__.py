from tasks.image_text_audio.suite import ImageTextAudio

__all__ = ["ImageTextAudio"]
