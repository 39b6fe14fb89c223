"""The listening bench: a run's checkpoints x adapter strengths x prompts, rendered as one grid.

``spec.py`` says what to render (``GridSpec``) and which checkpoints a selection means;
``render.py`` renders it with the model loaded once (adapters swapped per checkpoint, scaled
per strength; strength 0 and the plain base model as the reference) and writes ``grid.json``;
``signals.py`` holds the cheap, honest signals beside the ears (distance to the base render
at the same seed, the run's loss at each checkpoint); ``choose.py`` marks a favourite and
exports a chosen cell with its strength baked in, verified by reading it back.
"""
