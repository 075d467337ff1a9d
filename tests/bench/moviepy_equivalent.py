"""The benchmark movie of bench_render.py, made with MoviePy 2.x (run by MoviePy's own venv).

python moviepy_equivalent.py MEDIA_JSON FONT OUT.mp4
"""

import json
import sys

from moviepy import (
    AudioFileClip,
    ColorClip,
    CompositeAudioClip,
    CompositeVideoClip,
    ImageClip,
    TextClip,
    VideoFileClip,
    concatenate_videoclips,
    vfx,
)

m, font, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
W, H = 1920, 1080
SIZE = (W, H)


def ken_burns(path, start, end):
    """A photo zooming from `start` to `end` over the scene, centred."""
    clip = ImageClip(path).resized(SIZE).with_duration(6)
    return clip.resized(lambda t: start + (end - start) * t / 6).with_position("center")


def text(s, size, color="white", bg=None):
    return TextClip(font=font, text=s, font_size=size, color=color, bg_color=bg).with_duration(6)


def background(rgb):
    return ColorClip(SIZE, color=rgb).with_duration(6)


title = text("Reelsmith benchmark", 96).with_position("center")
s1 = CompositeVideoClip(
    [background((16, 24, 32)), ken_burns(m["p1"], 1, 1.2), title.with_effects([vfx.FadeIn(0.5)])],
    size=SIZE,
)
video = VideoFileClip(m["clip"]).subclipped(0, 6).resized(SIZE)
caption = text("A lower third caption", 48, bg=(0, 0, 0)).with_position((96, H - 200))
s2 = CompositeVideoClip([video, caption], size=SIZE)
s3 = CompositeVideoClip(
    [
        ken_burns(m["p2"], 1.2, 1.2),
        text("Photos, video, text, sound", 64).with_position(("center", 60)),
    ],
    size=SIZE,
)
small = VideoFileClip(m["clip"]).subclipped(4, 10).resized((1280, 720))
s4 = CompositeVideoClip(
    [
        background((0, 0, 0)),
        small.with_position("center"),
        text("Picture in picture", 48).with_position(("center", H - 150)),
    ],
    size=SIZE,
)
s5 = CompositeVideoClip(
    [background((242, 170, 76)), text("The end", 120, color="#101820").with_position("center")],
    size=SIZE,
)
scenes = [s1] + [s.with_effects([vfx.CrossFadeIn(1)]) for s in (s2, s3, s4, s5)]
movie = concatenate_videoclips(scenes, method="compose", padding=-1)
music = AudioFileClip(m["music"]).subclipped(0, movie.duration).with_volume_scaled(0.5)
sound = video.audio.with_start(5).with_volume_scaled(0.5)
movie = movie.with_audio(CompositeAudioClip([music, sound]))
movie.write_videofile(
    out,
    fps=30,
    codec="libx264",
    preset="fast",
    audio_codec="aac",
    ffmpeg_params=["-crf", "23", "-pix_fmt", "yuv420p"],
    threads=2,
    logger=None,
)
