"""Kling VIDEO O3 Pro on Runware (``klingai:kling-video@o3-pro``).

Sources: ``shared/reference/runware-protocol.md`` §3 and the model's API page
(``shared/seed/kling-video-o3-pro.txt``).
"""

from __future__ import annotations

from storyboard.profiles.base import DialogueForm, ModelProfile, Size

KLING_O3_PRO = ModelProfile(
    model_id="klingai:kling-video@o3-pro",
    name="Kling VIDEO O3 Pro",
    # §3.2: width/height come together and only these three pairs exist; 16:9 first (default).
    sizes=(Size(1920, 1080), Size(1440, 1440), Size(1080, 1920)),
    fps=24,  # Kling outputs 24 fps; there is no fps parameter.
    min_duration=3,
    max_duration=15,
    default_duration=5,
    min_prompt=2,
    max_prompt=2500,
    max_segments=6,  # multiPrompt: 1..6 segments
    min_segment_duration=1,
    max_segment_prompt=512,
    max_frame_images=2,
    max_reference_images=7,
    max_reference_images_with_video=4,
    max_elements=3,
    max_reference_videos=1,
    max_element_id=20,
    max_variations=20,
    # Kling's spec (§6) takes input videos of 3..10 s; Runware does not say it checks this,
    # but a generated 12 s shot would fail at the provider, so we refuse it at compile time.
    min_edit_source=3,
    max_edit_source=10,
    # §3.7: USD per output second at 1080p.
    price_silent=0.112,
    price_sound=0.14,
    price_video_input=0.168,
    # §3.5 and §6 (images): frame, reference and element images are JPEG or PNG, at most
    # 10 MB, at least 300 px on each side, aspect 1:2.5 to 2.5:1. These are Kling's limits,
    # which Runware passes through without documenting them itself; we check them anyway
    # (local files at compile time, where the writer can fix them): the provider refuses a
    # request that breaks them, after the wait. Hand-off frames of scaled-down takes are
    # scaled up to min_image_side instead.
    min_image_side=300,
    max_image_bytes=10 * 1024 * 1024,
    image_formats=("JPEG", "PNG"),
    min_image_aspect=1 / 2.5,
    max_image_aspect=2.5,
    # §6 (input videos: the edit source and the reference video): MP4 or MOV, at most 200 MB,
    # 3..10 s (min/max_edit_source), 720..2160 px on the shorter side, 24..60 fps. Video
    # elements are not held to these (Kling documents no limits for them). The container is
    # judged by the file's first bytes, as the service sniffs it: a WEBM named .mp4 is a WEBM.
    max_video_bytes=200 * 1024 * 1024,
    video_formats=("mp4", "mov"),
    min_video_side=720,
    max_video_side=2160,
    min_video_fps=24,
    max_video_fps=60,
    # Dialogue: Kling generates speech, lip-synced, from the prompt: the speaker (an element's
    # <<<element_N>>>, which binds its voice when it carries `voices`), how the line is said
    # and the words in double quotes, each line a sentence after the shot's own prompt. This
    # follows the form Kling's prompt guides show (speaker, delivery, quoted words); no model
    # output was measured here. Changing it changes the requests of storyboards with dialogue
    # (and so their keys: they are generated again), never those without.
    dialogue=DialogueForm(
        line='{who} says: "{says}"',
        line_how='{who} says, {how}: "{says}"',
        joiner=" ",
        after_prompt=" ",
    ),
)
