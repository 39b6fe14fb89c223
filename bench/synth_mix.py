"""What production does to a mix, for the harder pieces: a sustained pad (ducked by the kick when
sidechained), a rubato intro before the tempo starts, a final held chord, a room's reverb and a
master limiter that flattens the transients."""

from __future__ import annotations

import numpy as np


def pad(bars: list[tuple[float, float, list[float]]], rate: int, length: int) -> np.ndarray:
    """Each (start, end, frequencies) held with a slow attack and release."""
    out = np.zeros(length, np.float32)
    for start, end, freqs in bars:
        n = int((end - start + 0.3) * rate)
        t = np.arange(n) / rate
        envelope = np.minimum(1.0, t / 0.35) * np.clip((end - start + 0.3 - t) / 0.3, 0.0, 1.0)
        wave = sum(np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t) for f in freqs)
        i = int(start * rate)
        if i < length:
            m = min(n, length - i)
            out[i:i + m] += (envelope * wave)[:m].astype(np.float32)
    return out


def sidechain(signal: np.ndarray, kicks: list[float], rate: int, depth: float = 0.8,
              release: float = 0.18) -> np.ndarray:
    """``signal`` ducked by ``depth`` at every kick, recovering over ``release`` seconds (pumping)."""
    gain = np.ones(len(signal), np.float32)
    n = int(4 * release * rate)
    curve = (1 - depth * np.exp(-np.arange(n) / (release * rate))).astype(np.float32)
    for t in kicks:
        i = int(t * rate)
        if 0 <= i < len(gain):
            m = min(n, len(gain) - i)
            gain[i:i + m] = np.minimum(gain[i:i + m], curve[:m])
    return signal * gain


def rubato(chords: list[list[float]], seconds: float, rate: int, rng) -> np.ndarray:
    """Free-time chords, arpeggiated at irregular moments, for ``seconds`` (no pulse to find)."""
    out = np.zeros(int(seconds * rate) + rate, np.float32)
    t, index = 0.0, 0
    while t < seconds - 0.5:
        freqs = chords[index % len(chords)]
        for k, f in enumerate(freqs):
            start = t + k * float(rng.uniform(0.05, 0.25))
            n = int(2.5 * rate)
            s = np.arange(n) / rate
            note = (np.sin(2 * np.pi * f * s) + 0.4 * np.sin(4 * np.pi * f * s)) * np.exp(-1.2 * s)
            i = int(start * rate)
            m = min(n, len(out) - i)
            out[i:i + m] += 0.12 * note[:m].astype(np.float32)
        t += float(rng.uniform(1.3, 3.6))
        index += 1
    return out[: int(seconds * rate)]


def echo(signal: np.ndarray, delay: float, rate: int, feedback: float = 0.45, repeats: int = 4) -> np.ndarray:
    """A feedback delay of ``delay`` seconds (a dotted-eighth echo is a production staple)."""
    out = signal.copy()
    shift = int(delay * rate)
    for k in range(1, repeats + 1):
        if k * shift < len(signal):
            out[k * shift:] += feedback ** k * signal[: len(signal) - k * shift]
    return out


def reverb(signal: np.ndarray, rt60: float, rate: int, rng, wet: float = 0.45) -> np.ndarray:
    """A room: exponentially decaying, darkened noise as the impulse response."""
    from scipy.signal import fftconvolve, lfilter

    n = int(rt60 * rate)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    ir = lfilter([0.3], [1, -0.7], ir)  # darker tail
    ir /= np.sqrt(np.sum(ir ** 2)) + 1e-12
    tail = fftconvolve(signal, ir)[: len(signal)].astype(np.float32)
    return (1 - wet) * signal + wet * tail * (np.std(signal) / (np.std(tail) + 1e-12))


def limit(signal: np.ndarray, drive: float) -> np.ndarray:
    """A master limiter's squashed peaks: tanh at ``drive`` times the normalised level."""
    peak = float(np.abs(signal).max()) or 1.0
    return (np.tanh(drive * signal / peak) / np.tanh(drive)).astype(np.float32)
