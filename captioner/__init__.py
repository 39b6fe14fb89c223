"""Captions, metadata and lyrics for a folder of songs, as the sidecars the trainer reads.

The API the apps call (the trainer's auto-label tab and the captioner app alike):
``captioner.config.CaptionConfig`` (one run's settings, validated), ``captioner.job.run_job``
(run it in-process; progress to ``config.events``), ``CaptionConfig.to_argv`` (the same run as a
``python -m captioner`` job), ``captioner.registry.make_backend`` (one backend by name, for a
single song) and ``captioner.download.download_model``. Nothing here imports Gradio.
"""
