"""Downloads through huggingface_hub against a local stand-in of the hub."""

from __future__ import annotations

import shutil

import pytest

from acestep_train.cli import main
from acestep_train.models.discovery import discover_models
from acestep_train.models.download import DownloadError, download_model, plan_download
from hub_standin import HubStandIn


@pytest.fixture
def hub_repos(tmp_path, tiny_original):
    """The tiny model arranged as the official repos are: turbo + shared parts in the main repo."""
    main_repo, base_repo = tmp_path / "hub" / "main", tmp_path / "hub" / "base"
    for folder in ("vae", "Qwen3-Embedding-0.6B"):
        shutil.copytree(tiny_original / folder, main_repo / folder)
    shutil.copytree(tiny_original / "tiny-turbo", main_repo / "acestep-v15-turbo")
    shutil.copytree(tiny_original / "tiny-base", base_repo)
    return {"ACE-Step/Ace-Step1.5": main_repo, "ACE-Step/acestep-v15-base": base_repo}


def test_plan_uses_official_repos_only(tmp_path):
    turbo = plan_download("turbo", tmp_path)
    assert [(s.repo_id, s.allow_patterns) for s in turbo] == [
        ("ACE-Step/Ace-Step1.5", ["vae/*", "Qwen3-Embedding-0.6B/*"]),
        ("ACE-Step/Ace-Step1.5", ["acestep-v15-turbo/*"]),
    ]
    assert plan_download("sft", tmp_path)[1].repo_id == "ACE-Step/acestep-v15-sft"
    with pytest.raises(ValueError, match="'someone/else' is not an official ACE-Step 1.5 model"):
        plan_download("someone/else", tmp_path)


def test_download_turbo_and_base_into_original_layout(tmp_path, hub_repos):
    target = tmp_path / "checkpoints"
    with HubStandIn(hub_repos) as hub:
        assert download_model("turbo", target, endpoint=hub.url) == target / "acestep-v15-turbo"
        assert download_model("base", target, endpoint=hub.url) == target / "acestep-v15-base"
        assert any("/resolve/" in r and r.endswith("model.safetensors") for r in hub.requests)
    models = {m.name: m for m in discover_models([target])}
    assert set(models) == {"acestep-v15-turbo", "acestep-v15-base"}
    assert all(m.usable for m in models.values())
    assert models["acestep-v15-turbo"].variant.official and models["acestep-v15-turbo"].variant.name == "turbo"
    assert models["acestep-v15-base"].variant.name == "base"


def test_incomplete_download_is_an_error(tmp_path, hub_repos):
    (hub_repos["ACE-Step/Ace-Step1.5"] / "acestep-v15-turbo" / "silence_latent.pt").unlink()
    with HubStandIn(hub_repos) as hub, pytest.raises(DownloadError, match="incomplete.*missing acestep-v15-turbo/silence_latent.pt"):
        download_model("turbo", tmp_path / "checkpoints", endpoint=hub.url)


def test_offline_says_what_to_fetch_and_where(tmp_path, capsys):
    with HubStandIn({}) as hub:
        dead = hub.url
    code = main(["download", "--checkpoint-dir", str(tmp_path / "ck"), "--model", "base", "--endpoint", dead])
    err = capsys.readouterr().err
    assert code == 2
    assert "could not download ACE-Step/Ace-Step1.5" in err
    assert f"ACE-Step/acestep-v15-base (all files) -> {tmp_path / 'ck' / 'acestep-v15-base'}" in err


def test_download_clap_once_into_the_checkpoint_folder(tmp_path, tiny_clap, tiny_original):
    """``download --model clap`` fetches laion/clap-htsat-unfused where the bench looks; it is no DiT."""
    from acestep_train.compare.clap import ClapEmbedder, find_clap
    from acestep_train.models.download import CLAP_REPO

    target = tmp_path / "checkpoints"
    shutil.copytree(tiny_original / "tiny-turbo", target / "tiny-turbo")
    with HubStandIn({CLAP_REPO: tiny_clap}) as hub:
        assert main(["download", "--checkpoint-dir", str(target), "--model", "clap", "--endpoint", hub.url]) == 0
        assert any(r.startswith("GET /laion/clap-htsat-unfused/resolve/") for r in hub.requests)
    folder = find_clap(None, [str(target)])
    assert folder == target / "clap-htsat-unfused" and (folder / "model.safetensors").is_file()
    assert ClapEmbedder.load(folder).text(["zzq piano"]).shape == (1, 8)
    assert [m.name for m in discover_models([target])] == ["tiny-turbo"]  # the scorer is not listed as a model


def test_incomplete_clap_download_is_an_error(tmp_path, tiny_clap):
    from acestep_train.models.download import CLAP_REPO

    repo = shutil.copytree(tiny_clap, tmp_path / "repo")
    (repo / "model.safetensors").unlink()
    with HubStandIn({CLAP_REPO: repo}) as hub, pytest.raises(
            DownloadError, match="missing clap-htsat-unfused/model.safetensors or pytorch_model.bin"):
        download_model("clap", tmp_path / "checkpoints", endpoint=hub.url)
