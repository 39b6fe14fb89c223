"""Which ACE-Step 1.5 variant a DiT checkpoint is: turbo, base or sft (and XL sizes).

The variant decides the training defaults (turbo: the 8-step shift-3 timestep table;
base/sft: logit-normal timesteps with CFG dropout) and the inference defaults. Order of
evidence, per DESIGN.md: ``is_turbo`` in config.json, then ``model_version``, then the
folder name; a custom fine-tune whose name says nothing names its base with
``--base-model``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FAMILIES = ("turbo", "base", "sft")

#: Official DiT folders (as ACE-Step's downloader names them) -> Hugging Face repo id.
#: ``None`` means the folder ships inside the main repo ``ACE-Step/Ace-Step1.5``.
OFFICIAL_DIT_REPOS: dict[str, str | None] = {
    "acestep-v15-turbo": None,
    "acestep-v15-base": "ACE-Step/acestep-v15-base",
    "acestep-v15-sft": "ACE-Step/acestep-v15-sft",
    "acestep-v15-turbo-shift1": "ACE-Step/acestep-v15-turbo-shift1",
    "acestep-v15-turbo-shift3": "ACE-Step/acestep-v15-turbo-shift3",
    "acestep-v15-turbo-continuous": "ACE-Step/acestep-v15-turbo-continuous",
    "acestep-v15-xl-turbo": "ACE-Step/acestep-v15-xl-turbo",
    "acestep-v15-xl-base": "ACE-Step/acestep-v15-xl-base",
    "acestep-v15-xl-sft": "ACE-Step/acestep-v15-xl-sft",
}

XL_HIDDEN_SIZE = 2560


@dataclass(frozen=True)
class Variant:
    family: str | None  # "turbo" | "base" | "sft" | None when nothing tells
    xl: bool
    official: bool
    evidence: str  # how it was decided, shown to the user

    @property
    def name(self) -> str | None:
        if self.family is None:
            return None
        return f"xl-{self.family}" if self.xl else self.family

    @property
    def is_turbo(self) -> bool:
        return self.family == "turbo"


def _family_in_name(name: str) -> str | None:
    tokens = set(re.split(r"[-_.\s]+", name.lower()))
    found = [family for family in FAMILIES if family in tokens]
    return found[0] if len(found) == 1 else None


def _is_xl(config: dict, folder_name: str) -> bool:
    tokens = set(re.split(r"[-_.\s]+", folder_name.lower()))
    return "xl" in tokens or int(config.get("hidden_size", 0)) >= XL_HIDDEN_SIZE


def detect_variant(config: dict, folder_name: str, base_model: str | None = None) -> Variant:
    """Decide the variant of a DiT from its config dict and folder name."""
    official = folder_name in OFFICIAL_DIT_REPOS
    xl = _is_xl(config, folder_name)
    is_turbo = config.get("is_turbo")
    if is_turbo is True:
        return Variant("turbo", xl, official, "config.json is_turbo=true")
    candidates = [
        (str(config.get("model_version") or "").lower(), "config.json model_version"),
        (_family_in_name(folder_name) or "", f"folder name {folder_name!r}"),
        (_family_in_name(base_model or "") or "", f"--base-model {base_model!r}"),
    ]
    for family, evidence in candidates:
        if family not in FAMILIES:
            continue
        if family == "turbo" and is_turbo is False:
            continue  # config.json says it is not turbo; it outranks names
        return Variant(family, xl, official, evidence)
    return Variant(None, xl, official, "nothing tells (pass --base-model turbo|base|sft or the base's folder name)")
