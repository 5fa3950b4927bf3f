"""Power swings of a waveform: ramp rates, dynamic range and band amplitudes, checked against limits.

Ramps over a window ``w`` compare the mean power of every window with the window that follows it
(``|mean[t+w, t+2w) - mean[t, t+w)| / w``, in MW/s; at ``w`` = one sample this is the sample-to-sample
ramp). Band amplitudes come from the single-sided amplitude spectrum with a flat-top window, so a steady
oscillation of amplitude ``A`` MW reads ``A`` within 0.1 % wherever its frequency falls between bins; the
spectrum is taken over half-overlapping segments (60 s by default) and each frequency keeps its worst
segment, so a swing counts wherever in the record it happens.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from numba import njit
from scipy import fft as sfft

from wattscale.errors import DataError
from wattscale.guards import MAX_YAML_BYTES, excerpt, path_problem

DEFAULT_BANDS_HZ = (("0.1-2 Hz", 0.1, 2.0), ("3-30 Hz", 3.0, 30.0))  # Choukse et al. 2025


@dataclass(frozen=True)
class Band:
    name: str
    low_hz: float
    high_hz: float
    max_amplitude_mw: float | None = None


@dataclass(frozen=True)
class RampLimit:
    window_s: float
    max_mw_per_s: float | None = None


@dataclass(frozen=True)
class Limits:
    """What the grid allows: ramp rates per window, oscillation amplitude per band, dynamic range."""

    bands: tuple[Band, ...] = tuple(Band(n, lo, hi) for n, lo, hi in DEFAULT_BANDS_HZ)
    ramps: tuple[RampLimit, ...] = (RampLimit(0.1), RampLimit(1.0), RampLimit(60.0))
    max_dynamic_range_mw: float | None = None
    name: str = "no limits"

    def check_resolution(self, step_s: float, duration_s: float, *, file: str | None = None) -> None:
        nyquist = 0.5 / step_s
        for b in self.bands:
            if b.high_hz >= nyquist:  # a flat-top window misreads tones at the Nyquist frequency itself
                raise DataError(f"band '{b.name}' reaches {b.high_hz:g} Hz, not below the Nyquist frequency "
                                f"{nyquist:g} Hz of a {step_s:g} s resolution", file=file, field="bands",
                                expected=f"bands below {nyquist:g} Hz, or a finer resolution")
            if b.low_hz < 5.0 / duration_s:
                raise DataError(f"band '{b.name}' starts at {b.low_hz:g} Hz: a {duration_s:g} s waveform holds "
                                "fewer than five periods of it", file=file, field="bands",
                                expected=f"a waveform of at least {5 / b.low_hz:g} s, or a higher band")
        for r in self.ramps:
            if r.window_s < step_s - 1e-12 or 2 * r.window_s > duration_s:
                raise DataError(f"ramp window {r.window_s:g} s does not fit a {duration_s:g} s waveform at "
                                f"{step_s:g} s resolution", file=file, field="ramps",
                                expected="windows between one sample and half the waveform")


def read_limits(path: str | Path) -> Limits:
    """Limits from YAML: ``bands: [{name, low_hz, high_hz, max_amplitude_mw}]``,
    ``ramps: [{window_s, max_mw_per_s}]``, ``max_dynamic_range_mw``."""
    file = str(path)
    problem = path_problem(path)
    if problem:
        raise DataError(f"limits file {problem}", file=file)
    if Path(path).stat().st_size > MAX_YAML_BYTES:
        raise DataError("limits file too large", file=file, expected=f"at most {MAX_YAML_BYTES / 1e6:g} MB of YAML")
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise DataError(f"not valid YAML: {excerpt(exc, 160)}", file=file) from None
    except (UnicodeDecodeError, RecursionError):
        raise DataError("not a YAML text file", file=file) from None
    if not isinstance(raw, dict):
        raise DataError("not a limits file", file=file, expected="a mapping with bands, ramps, max_dynamic_range_mw")
    unknown = set(raw) - {"name", "source", "bands", "ramps", "max_dynamic_range_mw"}
    if unknown:
        raise DataError(f"unknown key(s) {', '.join(excerpt(k, 30) for k in sorted(map(str, unknown)))}", file=file,
                        expected="name, source, bands, ramps, max_dynamic_range_mw")
    for key in ("bands", "ramps"):
        if raw.get(key) is not None and not isinstance(raw[key], list):
            raise DataError(f"'{key}' must be a list", file=file, field=key,
                            expected="a list of mappings, e.g. - {low_hz: 0.1, high_hz: 2, max_amplitude_mw: 3}")
    bands = []
    for i, b in enumerate(raw.get("bands") or []):
        where = f"bands[{i}]"
        try:
            band = Band(excerpt(b.get("name", f"{b['low_hz']}-{b['high_hz']} Hz"), 40), float(b["low_hz"]),
                        float(b["high_hz"]), _opt_positive(b.get("max_amplitude_mw"), file, f"{where}.max_amplitude_mw"))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise DataError("a band needs low_hz and high_hz (numbers)", file=file, field=where) from None
        if not 0 < band.low_hz < band.high_hz < 1e6:
            raise DataError("band edges out of order", file=file, field=where, expected="0 < low_hz < high_hz")
        bands.append(band)
    bands.sort(key=lambda b: b.low_hz)
    for a, b in zip(bands, bands[1:]):
        if b.low_hz < a.high_hz:
            raise DataError(f"bands '{a.name}' and '{b.name}' overlap", file=file, field="bands",
                            expected="disjoint frequency bands")
    ramps = []
    for i, r in enumerate(raw.get("ramps") or []):
        try:
            ramps.append(RampLimit(float(r["window_s"]), _opt_positive(r.get("max_mw_per_s"), file,
                                                                      f"ramps[{i}].max_mw_per_s")))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise DataError("a ramp limit needs window_s (seconds)", file=file, field=f"ramps[{i}]") from None
        if not 0 < ramps[-1].window_s < 1e8:
            raise DataError("ramp window must be positive", file=file, field=f"ramps[{i}].window_s")
    return Limits(bands=tuple(bands), ramps=tuple(ramps),
                  max_dynamic_range_mw=_opt_positive(raw.get("max_dynamic_range_mw"), file, "max_dynamic_range_mw"),
                  name=excerpt(raw.get("name", Path(path).stem), 80))


def _opt_positive(v, file: str, where: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1e9:
        raise DataError(f"'{excerpt(v, 30)}' is not a positive number", file=file, field=where,
                        expected="MW or MW/s > 0 (finite)")
    return float(v)


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    limit: float | None
    unit: str

    @property
    def margin(self) -> float | None:
        """Headroom as a share of the limit (negative: violated)."""
        return None if self.limit is None else 1.0 - self.value / self.limit

    @property
    def passed(self) -> bool:
        return self.limit is None or self.value <= self.limit * (1 + 1e-9)


@dataclass(frozen=True)
class SwingAnalysis:
    step_s: float
    mean_mw: float
    min_mw: float
    max_mw: float
    ramps_mw_per_s: dict[float, float]
    band_amplitude_mw: dict[str, float]
    band_rms_mw: dict[str, float]
    frequency_hz: np.ndarray = field(repr=False)
    amplitude_mw: np.ndarray = field(repr=False)
    checks: tuple[Check, ...] = ()

    @property
    def dynamic_range_mw(self) -> float:
        return self.max_mw - self.min_mw

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def violations(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


def max_ramp_mw_per_s(power_mw: np.ndarray, step_s: float, window_s: float,
                      cumulative: np.ndarray | None = None) -> float:
    """Largest change between the means of adjacent windows of ``window_s``, per second (``cumulative``:
    the running sum of ``power_mw`` with a leading 0, when several windows share it)."""
    m = max(1, int(round(window_s / step_s)))
    if 2 * m > len(power_mw):
        return float("nan")
    c = _cumulative(np.ascontiguousarray(power_mw, dtype=float)) if cumulative is None else cumulative
    return float(_ramp_maxima(c, np.array([m]), np.array([np.inf]))[0] / (m * m * step_s))


@njit(cache=True)
def _cumulative(x):  # pragma: no cover - numba
    c = np.empty(len(x) + 1)
    c[0] = acc = 0.0
    for i in range(len(x)):
        acc += x[i]
        c[i + 1] = acc
    return c


@njit(cache=True)
def _ramp_maxima(c, windows, limits):  # pragma: no cover - numba
    """Per window of m samples: max |sum of the next m - sum of the previous m| over the running sum ``c``;
    stops at the first window whose maximum exceeds its limit (in the same units), which it returns."""
    out = np.zeros(len(windows))
    block = 4096
    for j in range(len(windows)):
        m = windows[j]
        n = len(c) - 2 * m
        b0 = b1 = b2 = b3 = 0.0  # four running maxima, so the loop is not one chain of comparisons
        for start in range(0, n, block):
            i, end = start, min(start + block, n)
            while i + 4 <= end:
                b0 = max(b0, abs((c[i + 2 * m] - c[i + m]) - (c[i + m] - c[i])))
                b1 = max(b1, abs((c[i + 1 + 2 * m] - c[i + 1 + m]) - (c[i + 1 + m] - c[i + 1])))
                b2 = max(b2, abs((c[i + 2 + 2 * m] - c[i + 2 + m]) - (c[i + 2 + m] - c[i + 2])))
                b3 = max(b3, abs((c[i + 3 + 2 * m] - c[i + 3 + m]) - (c[i + 3 + m] - c[i + 3])))
                i += 4
            while i < end:
                b0 = max(b0, abs((c[i + 2 * m] - c[i + m]) - (c[i + m] - c[i])))
                i += 1
            out[j] = max(max(b0, b1), max(b2, b3))
            if out[j] > limits[j]:
                return out[: j + 1]
    return out


_FLATTOP = (0.21557895, 0.41663158, 0.277263158, 0.083578947, 0.006947368)  # periodic flat-top window
_TAPS = np.array([_FLATTOP[0]] + [(-1) ** i * a / 2 for i, a in enumerate(_FLATTOP) if i])  # window = these taps in bins


def segment_samples(n: int, step_s: float, limits: Limits) -> int:
    """Samples per spectrum segment: 60 s, or five periods of the lowest band edge, within the record."""
    lowest = min((b.low_hz for b in limits.bands), default=1.0)
    return int(min(n, max(round(60.0 / step_s), round(5.0 / (lowest * step_s)))))


def _segment_chunks(x: np.ndarray, n: int, rows: int | None = None):
    """Half-overlapping segments of ``n`` samples, read in place, ``rows`` at a time (default: all at once); the
    last segment ends the record."""
    hop = max(1, n // 2)
    regular = (len(x) - n) // hop + 1
    segs = np.lib.stride_tricks.as_strided(x, shape=(regular, n), strides=(hop * x.strides[0], x.strides[0]),
                                           writeable=False)
    for start in range(0, regular, rows or regular):
        yield segs[start:start + (rows or regular)]
    if (regular - 1) * hop != len(x) - n:
        yield x[len(x) - n:][None, :]


@njit(cache=True)
def _raise_flat_top(re, im, n, coef, flat):  # pragma: no cover - numba
    """Raise ``flat`` to the flat-top |X|^2 of one segment whose rectangular spectrum is in ``re``/``im`` (bins
    0 .. nb - 1 at 4 .. nb + 3, bin 0 zero for the mean removed): the periodic flat-top window is the 9-tap
    convolution ``coef`` of that spectrum, whose bins beyond n/2 are the conjugates of those below."""
    nb = len(flat)
    for i in range(1, 5):
        re[4 - i], im[4 - i] = re[4 + i], -im[4 + i]
        j = n - (nb - 1 + i)  # bin nb - 1 + i is the conjugate of bin n - (nb - 1 + i)
        if 0 <= j < nb:
            re[nb + 3 + i], im[nb + 3 + i] = re[4 + j], -im[4 + j]
    c0, c1, c2, c3, c4 = coef[0], coef[1], coef[2], coef[3], coef[4]
    for k in range(nb):
        zr = (c0 * re[k + 4] + c1 * (re[k + 3] + re[k + 5]) + c2 * (re[k + 2] + re[k + 6])
              + c3 * (re[k + 1] + re[k + 7]) + c4 * (re[k] + re[k + 8]))
        zi = (c0 * im[k + 4] + c1 * (im[k + 3] + im[k + 5]) + c2 * (im[k + 2] + im[k + 6])
              + c3 * (im[k + 1] + im[k + 7]) + c4 * (im[k] + im[k + 8]))
        flat[k] = max(flat[k], zr * zr + zi * zi)


@njit(cache=True)
def _worst_amplitudes(spec, n, coef, rect):  # pragma: no cover - numba
    """Per bin, the largest |X|^2 over the segments (rows of their rectangular rFFT ``spec``) of the flat-top
    spectrum (and of the rectangular one), the segments' means removed."""
    n_seg, nb = spec.shape
    flat = np.zeros(nb)
    box = np.zeros(nb if rect else 1)
    re = np.zeros(nb + 8)
    im = np.zeros(nb + 8)
    for s in range(n_seg):
        for k in range(1, nb):
            re[k + 4] = spec[s, k].real
            im[k + 4] = spec[s, k].imag
        _raise_flat_top(re, im, n, coef, flat)
        if rect:
            for k in range(nb):
                box[k] = max(box[k], re[k + 4] * re[k + 4] + im[k + 4] * im[k + 4])
    return flat, box


def _amplitude_mw(worst_sq: np.ndarray, n: int, window_sum: float) -> np.ndarray:
    """Single-sided amplitude (MW) from the worst |X|^2 per bin of an ``n``-sample window summing to ``window_sum``."""
    a = np.sqrt(worst_sq) * (2.0 / window_sum)
    a[0] = 0.0
    if n % 2 == 0:
        a[-1] /= 2.0  # the Nyquist bin has no mirror image
    return a


def amplitude_spectrum(power_mw: np.ndarray, step_s: float, segment: int | None = None, *, rect: bool = True
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(frequencies Hz, flat-top amplitude MW, rectangular-window amplitude MW or None), single-sided, worst
    segment.

    The record is cut into half-overlapping segments of ``segment`` samples (default: the whole record);
    each frequency reports its largest amplitude over the segments, so a swing counts wherever it occurs.
    """
    x = np.ascontiguousarray(power_mw, dtype=float)
    n = segment or len(x)
    flat_sq = rect_sq = 0.0
    for segs in _segment_chunks(x, n):
        f, r = _worst_amplitudes(sfft.rfft(segs, axis=1), n, _TAPS, rect)
        flat_sq, rect_sq = np.maximum(flat_sq, f), np.maximum(rect_sq, r)
    return (sfft.rfftfreq(n, step_s), _amplitude_mw(flat_sq, n, n * _FLATTOP[0]),
            _amplitude_mw(rect_sq, n, n) if rect else None)


_CHUNK_SEGMENTS = 16  # a compliance check stops at the first chunk of segments over a band limit


def _ramp_windows(limits: Limits, step_s: float) -> tuple[list[RampLimit], np.ndarray, np.ndarray]:
    """The limited ramps, their windows (samples) and the |difference of adjacent window sums| past which a
    ramp surely fails."""
    ramps = [r for r in limits.ramps if r.max_mw_per_s is not None]
    m = np.array([max(1, round(r.window_s / step_s)) for r in ramps], dtype=np.int64)
    return ramps, m, np.array([r.max_mw_per_s for r in ramps]) * (1 + 1e-6) * m * m * step_s


def _ramps_passed(maxima: np.ndarray, ramps: list[RampLimit], m: np.ndarray, step_s: float, n: int) -> bool:
    """Whether the largest |difference of adjacent window sums| per window meet the ramp limits."""
    return (len(maxima) == len(ramps) and (not ramps or 2 * m.max() <= n)
            and all(Check("", float(b / (k * k * step_s)), r.max_mw_per_s, "").passed
                    for b, k, r in zip(maxima, m, ramps)))


def _bands_passed(freq: np.ndarray, flat: np.ndarray, limits: Limits) -> bool:
    for b in limits.bands:
        sel = (freq >= b.low_hz) & (freq <= b.high_hz)
        if not Check("", float(flat[sel].max()) if sel.any() else 0.0, b.max_amplitude_mw, "").passed:
            return False
    return True


def _range_passed(power_mw: np.ndarray, limits: Limits) -> bool:
    return limits.max_dynamic_range_mw is None or Check("", float(power_mw.max() - power_mw.min()),
                                                         limits.max_dynamic_range_mw, "").passed


def passes(power_mw: np.ndarray, step_s: float, limits: Limits) -> bool:
    """Whether ``power_mw`` meets ``limits`` (as ``analyse(...).passed``), cheapest check first: the dynamic
    range, the ramps, then the spectrum a few segments at a time."""
    p = np.ascontiguousarray(power_mw, dtype=float)
    if not _range_passed(p, limits):
        return False
    ramps, m, stop = _ramp_windows(limits, step_s)
    if ramps and (2 * m.max() > len(p) or not _ramps_passed(
            _ramp_maxima(_cumulative(p), m, stop), ramps, m, step_s, len(p))):
        return False
    if not any(b.max_amplitude_mw is not None for b in limits.bands):
        return True
    n = segment_samples(len(p), step_s, limits)
    freq = sfft.rfftfreq(n, step_s)
    worst_sq = 0.0
    for segs in _segment_chunks(p, n, _CHUNK_SEGMENTS):
        worst_sq = np.maximum(worst_sq, _worst_amplitudes(sfft.rfft(segs, axis=1), n, _TAPS, False)[0])
        if not _bands_passed(freq, _amplitude_mw(worst_sq, n, n * _FLATTOP[0]), limits):
            return False
    return True


def lowpass(power_mw: np.ndarray, a: float) -> np.ndarray:
    """First-order low-pass ``y[i] = a x[i] + (1 - a) y[i-1]`` from steady state (``y[-1] = x[0]``): the numbers
    of ``scipy.signal.lfilter([a], [1, a - 1], x, zi=[(1 - a) x[0]])``."""
    x = np.ascontiguousarray(power_mw, dtype=float)
    y = np.empty(len(x))
    _lowpass_ramps(x, a, np.zeros(0, dtype=np.int64), np.zeros(0), y, np.zeros(1), np.zeros(0))
    return y


@njit(cache=True)
def _lowpass_ramps(x, a, windows, stop, y, c, maxima):  # pragma: no cover - numba
    """``y`` = the low-pass of ``x``, ``c`` its running sum (leading 0), ``maxima`` the largest |difference of
    adjacent window sums| per window; False at the first difference past ``stop`` (``y`` then incomplete)."""
    keep = 1.0 - a
    prev = x[0] if len(x) else 0.0
    c[0] = acc = 0.0
    maxima[:] = 0.0
    ramps = len(windows) > 0
    for i in range(len(x)):
        prev = a * x[i] + keep * prev
        y[i] = prev
        if not ramps:
            continue
        acc += prev
        c[i + 1] = acc
        for j in range(len(windows)):
            m = windows[j]
            k = i + 1 - 2 * m
            if k >= 0:
                d = abs((c[k + 2 * m] - c[k + m]) - (c[k + m] - c[k]))
                maxima[j] = max(maxima[j], d)
                if d > stop[j]:
                    return False
    return True


@njit(cache=True)
def _lowpassed_worst(spec, n, starts, y, y_before, a, coef):  # pragma: no cover - numba
    """``_worst_amplitudes`` (flat-top) of the low-pass ``y`` of a record, from the rectangular spectra ``spec`` of
    the record's segments (starting at ``starts``): per bin k, Y = (a X + (1 - a)(y[start - 1] - y[end])) /
    (1 - (1 - a) exp(-2 pi i k / n)), the first-order recursion summed over the segment."""
    n_seg, nb = spec.shape
    keep = 1.0 - a
    inv = np.empty(nb, dtype=np.complex128)
    for k in range(nb):
        w = 2.0 * np.pi * k / n
        inv[k] = 1.0 / complex(1.0 - keep * np.cos(w), keep * np.sin(w))
    flat = np.zeros(nb)
    re = np.zeros(nb + 8)
    im = np.zeros(nb + 8)
    for s in range(n_seg):
        st = starts[s]
        edge = keep * ((y[st - 1] if st > 0 else y_before) - y[st + n - 1])
        for k in range(1, nb):
            z = (a * spec[s, k] + edge) * inv[k]
            re[k + 4] = z.real
            im[k + 4] = z.imag
        _raise_flat_top(re, im, n, coef, flat)
    return flat


class LowpassSearch:
    """Whether first-order low-passes of one record (``lowpass``) meet ``limits``, for a search over the filter:
    each trial runs the filter and the ramp checks together, stopping at the first ramp over its limit, and takes
    the segments' spectra from the record's, bin by bin, without an FFT. Answers as ``passes(lowpass(...))``."""

    def __init__(self, power_mw: np.ndarray, step_s: float, limits: Limits):
        self.x = np.ascontiguousarray(power_mw, dtype=float)
        self.step_s, self.limits = step_s, limits
        self.ramps, self.windows, self.stop = _ramp_windows(limits, step_s)
        self.y, self.c, self.maxima = np.empty(len(self.x)), np.empty(len(self.x) + 1), np.zeros(len(self.ramps))
        self.bands = any(b.max_amplitude_mw is not None for b in limits.bands)
        if self.bands:
            self.n = n = segment_samples(len(self.x), step_s, limits)
            self.freq = sfft.rfftfreq(n, step_s)
            chunks = [sfft.rfft(segs, axis=1) for segs in _segment_chunks(self.x, n)]
            self.spec = chunks[0] if len(chunks) == 1 else np.vstack(chunks)
            hop = max(1, n // 2)
            starts = np.arange((len(self.x) - n) // hop + 1) * hop
            self.starts = np.r_[starts, len(self.x) - n][: len(self.spec)].astype(np.int64)  # as _segment_chunks

    def __call__(self, a: float) -> bool:
        if not _lowpass_ramps(self.x, a, self.windows, self.stop, self.y, self.c, self.maxima):
            return False
        if not _ramps_passed(self.maxima, self.ramps, self.windows, self.step_s, len(self.x)):
            return False
        if not _range_passed(self.y, self.limits):
            return False
        if not self.bands:
            return True
        worst_sq = _lowpassed_worst(self.spec, self.n, self.starts, self.y, self.x[0], a, _TAPS)
        return _bands_passed(self.freq, _amplitude_mw(worst_sq, self.n, self.n * _FLATTOP[0]), self.limits)


def analyse(power_mw: np.ndarray, step_s: float, limits: Limits = Limits(), *, rms: bool = True) -> SwingAnalysis:
    """Ramp rates, dynamic range and band amplitudes of ``power_mw`` sampled every ``step_s`` (band RMS too,
    unless ``rms`` is False: sizing loops skip it)."""
    p = np.ascontiguousarray(power_mw, dtype=float)
    freq, flat, rect = amplitude_spectrum(p, step_s, segment_samples(len(p), step_s, limits), rect=rms)
    cumulative = _cumulative(p)
    ramps = {r.window_s: max_ramp_mw_per_s(p, step_s, r.window_s, cumulative) for r in limits.ramps}
    amp, rms = {}, {}
    for b in limits.bands:
        sel = (freq >= b.low_hz) & (freq <= b.high_hz)
        amp[b.name] = float(flat[sel].max()) if sel.any() else 0.0
        rms[b.name] = float(np.sqrt(0.5 * np.sum(rect[sel] ** 2))) if rect is not None else float("nan")
    checks = [Check(f"ramp over {r.window_s:g} s", ramps[r.window_s], r.max_mw_per_s, "MW/s") for r in limits.ramps]
    checks += [Check(f"amplitude {b.name}", amp[b.name], b.max_amplitude_mw, "MW") for b in limits.bands]
    checks.append(Check("dynamic range", float(p.max() - p.min()), limits.max_dynamic_range_mw, "MW"))
    return SwingAnalysis(step_s=step_s, mean_mw=float(p.mean()), min_mw=float(p.min()), max_mw=float(p.max()),
                         ramps_mw_per_s=ramps, band_amplitude_mw=amp, band_rms_mw=rms, frequency_hz=freq,
                         amplitude_mw=flat, checks=tuple(checks))
