"""A quiet console for the command line: TensorFlow's start-up lines filtered, cvkit's own errors
printed as one line, output folders checked before any work.

TensorFlow 2.x opens every process with a screen of C++ log lines: the oneDNN and CUDA-stub notes
(written by absl *before* its logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide
them), the CPU-instructions banner and, on a machine without a GPU, ``E0000 ... failed call to
cuInit``. They read like failures. :func:`quiet_tensorflow` sets the C++ log level to 1 (INFO off,
warnings and errors on) unless the user set it, then imports TensorFlow and probes its devices with
file descriptor 2 sent to a temporary file, and writes back every line that is not one of those
start-up lines (:data:`STARTUP_LINE`): Python warnings and real errors still show.

:func:`cvkit_error` tells cvkit's own bad-input errors (a ``ValueError`` / ``TypeError`` /
``OSError`` raised by a line of cvkit, whose message names the argument) from a failure deep
inside a library (a bug, whose traceback is worth reading).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

__all__ = ["STARTUP_LINE", "LOG_LEVEL", "filtered_stderr", "quiet_tensorflow", "cvkit_error",
           "error_line", "output_folder"]

#: TensorFlow's C++ log level set (with ``os.environ.setdefault``) before it is imported:
#: 1 hides its INFO lines and keeps its warnings and errors.
LOG_LEVEL = "1"

#: A start-up line of TensorFlow's C++ runtime: absl's banner, an INFO / WARNING line in the glog
#: format (``I0000 00:00:1795784354.010669   11274 port.cc:153] ...``), an ERROR line about CUDA
#: (``cuInit``, cuDNN / cuFFT / cuBLAS factories) and the banner's second line.
STARTUP_LINE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
    r"|E\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\].*(cuInit|CUDA|cuda|cuDNN|cuFFT|cuBLAS)"
    r"|To enable the following instructions: .* rebuild TensorFlow")


@contextlib.contextmanager
def filtered_stderr(drop=STARTUP_LINE):
    """Send file descriptor 2 to a temporary file for the block, then write back its lines that
    ``drop`` does not match (at their start).

    It catches what C++ libraries write to the descriptor directly, which ``sys.stderr`` never
    sees. Where descriptor 2 cannot be duplicated (a closed stream) the block runs unfiltered.

    Parameters
    ----------
    drop : re.Pattern
        Lines to leave out (``drop.match(line)``).

    Examples
    --------
    What a C++ library writes to descriptor 2, filtered; the kept lines go to ``sys.stderr``:

    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     with filtered_stderr(re.compile("noise")):
    ...         _ = os.write(2, b"noise from C++\\nkept\\n")
    >>> err.getvalue()
    'kept\\n'
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines = tmp.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not drop.match(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def quiet_tensorflow():
    """Import TensorFlow without its start-up lines (see the module docstring).

    ``TF_CPP_MIN_LOG_LEVEL`` is set to :data:`LOG_LEVEL` only when the environment has no value
    (yours wins). Then TensorFlow is imported and its devices listed (the CUDA probe that prints
    ``cuInit`` runs then) inside :func:`filtered_stderr`. Nothing happens when TensorFlow is
    already imported: its start-up is over.

    Returns
    -------
    bool
        True when this call imported TensorFlow.

    Examples
    --------
    >>> import os
    >>> quiet_tensorflow() in (True, False), "TF_CPP_MIN_LOG_LEVEL" in os.environ
    (True, True)
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", LOG_LEVEL)
    if "tensorflow" in sys.modules:
        return False
    with filtered_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()
    return True


_PACKAGE = Path(__file__).resolve().parents[1]
_OWN_KINDS = (ValueError, TypeError, OSError)


def cvkit_error(exc):
    """True when ``exc`` is one of cvkit's own bad-input errors: a ``ValueError``, ``TypeError`` or
    ``OSError`` (``FileNotFoundError``, ...) raised by a line of the cvkit package.

    The same kinds raised inside NumPy, TensorFlow or Keras are not: their traceback is kept.

    Examples
    --------
    >>> from cvkit._validate import check_int
    >>> try:
    ...     check_int("x", "batch_size")
    ... except TypeError as exc:
    ...     print(cvkit_error(exc))
    True
    >>> try:
    ...     int("x")
    ... except ValueError as exc:
    ...     print(cvkit_error(exc))
    False
    """
    if not isinstance(exc, _OWN_KINDS) or exc.__traceback__ is None:
        return False
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    try:
        raised_in = Path(tb.tb_frame.f_code.co_filename).resolve()
    except (OSError, ValueError):
        return False
    return _PACKAGE in raised_in.parents


def error_line(exc):
    """The one line printed for a cvkit error: ``error: <message>`` (newlines folded).

    Examples
    --------
    >>> error_line(ValueError("`top` must be >= 1;\\ngot 0."))
    'error: `top` must be >= 1; got 0.'
    >>> error_line(FileNotFoundError(2, "No such file or directory", "a.png"))
    "error: [Errno 2] No such file or directory: 'a.png'"
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"error: {text}"


def output_folder(path, what="out"):
    """The output folder ``path``, created if missing, checked to be a writable folder.

    Parameters
    ----------
    path : str or Path
    what : str
        The argument's name for the messages.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        When ``path`` is an existing file, cannot be created, or is not writable.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> tmp = tempfile.mkdtemp()
    >>> output_folder(Path(tmp, "a", "b")).is_dir()
    True
    >>> _ = Path(tmp, "file.txt").write_text("x")
    >>> output_folder(Path(tmp, "file.txt"))   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `out`: ...file.txt is an existing file, not a folder; give a folder (created if missing).
    >>> shutil.rmtree(tmp)
    """
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"`{what}`: {out} is an existing file, not a folder; give a folder "
                         "(created if missing).")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(f"`{what}`: cannot create the folder {out} ({reason}); give a folder "
                         "you can write to.") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"`{what}`: the folder {out} is not writable; give a folder you can "
                         "write to.")
    return out
