"""The `reelsmith` command line (also `python -m app`).

    reelsmith                       open the studio
    reelsmith validate FILE ...     check a movie script; exit 0 ok, 1 problems, 2 cannot read
    reelsmith render FILE -o OUT    render to MP4 locally (3 = media or render failure)
    reelsmith frame FILE --at T -o OUT.png
    reelsmith schema                print the bundled JSON Schema
    reelsmith examples [DIR]        example scripts with generated sample media

Exit codes are part of the interface: 0 success, 1 the script has errors, 2 usage or I/O errors
(a file that cannot be read, bad arguments), 3 media or render failures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app import __version__

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_MEDIA = 3

#: Scripts larger than this are refused rather than parsed (a script is a few MB at most).
MAX_SCRIPT_BYTES = 256 * 1024 * 1024


class CliError(Exception):
    """A usage or I/O error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2 too, but with its own wording
        self.print_usage(sys.stderr)
        raise CliError(message)


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        if path.is_dir():
            raise CliError(f"{path}: is a folder, not a {what}")
        size = path.stat().st_size
        if size > MAX_SCRIPT_BYTES:
            raise CliError(f"{path}: {size / 1e6:.0f} MB is too large for a {what}")
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except PermissionError:
        raise CliError(f"{path}: permission denied") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load_variables(path: Path) -> dict[str, Any]:
    """A `--vars` file: a JSON object of variable names to values."""
    from app.script.jsontext import decode, parse

    text, error = decode(_read_bytes(path, "variables file"))
    if error is None:
        parsed = parse(text)
        error = parsed.error
    if error is not None:
        raise CliError(f"{path}:{error.line}:{error.column}: {error.message}")
    if not isinstance(parsed.data, dict):
        raise CliError(f"{path}: variables must be a JSON object of names to values")
    return parsed.data


def load_schema(spec: str) -> Any:
    """`--schema`: a file path, or an http(s) URL (a service's `/api/render/schema`)."""
    from app.script.schema import Schema, SchemaError

    try:
        if spec.startswith(("http://", "https://")):
            import httpx

            try:
                response = httpx.get(spec, timeout=15.0, follow_redirects=True)
            except httpx.HTTPError as exc:
                raise CliError(f"{spec}: cannot fetch the schema: {exc}") from None
            if response.status_code != 200:
                raise CliError(f"{spec}: cannot fetch the schema: HTTP {response.status_code}")
            return Schema.from_text(response.content, source=spec)
        return Schema.from_text(_read_bytes(Path(spec), "schema"), source=spec)
    except SchemaError as exc:
        raise CliError(str(exc)) from None


def _check_script(
    path: Path,
    variables: dict[str, Any] | None,
    schema: Any = None,
    remote: bool = False,
    measure: bool = False,
) -> Any:
    """Read and validate a script file; returns the `validate.Report`."""
    from app.script.jsontext import decode
    from app.script.lint import LintOptions
    from app.script.problems import INVALID_JSON, Problem
    from app.script.validate import Report, validate_text

    text, decode_error = decode(_read_bytes(path, "movie script"))
    if decode_error is not None:
        return Report(
            text=text,
            problems=[Problem((), decode_error.message, code=INVALID_JSON)],
            parse_error=decode_error,
        )
    metrics: Any = None
    if measure:  # the renderer's real font metrics (needs Qt; the render commands load it anyway)
        from app.render.text import measure_text as metrics
    options = LintOptions(base_dir=path.resolve().parent, remote=remote, measure_text=metrics)
    return validate_text(text, schema=schema, variables=variables, lint_options=options)


def _print_problems(path: Path, report: Any, stream: Any = None) -> None:
    for problem, loc in report.located():
        where = f" {problem.path_text}:" if problem.path else ""
        print(
            f"{path}:{loc.line}:{loc.column}: {problem.severity}:{where} "
            f"{problem.message} [{problem.code}]",
            file=stream or sys.stdout,
        )


def _cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.file)
    variables = load_variables(Path(args.vars)) if args.vars else None
    schema = load_schema(args.schema) if args.schema else None
    report = _check_script(path, variables, schema, args.remote)
    located = report.located()
    if args.format == "json":
        out = {
            "ok": report.ok,
            "problems": [
                {**problem.as_dict(), "line": loc.line, "column": loc.column}
                for problem, loc in located
            ],
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        _print_problems(path, report)
        errors = sum(1 for p in report.problems if p.is_error)
        warnings = len(report.problems) - errors
        if report.ok:
            print(f"{path}: valid{_summary_tail(report.resolved)}" + _counts(0, warnings))
        else:
            print(f"{path}: invalid" + _counts(errors, warnings))
    return EXIT_OK if report.ok else EXIT_INVALID


def _counts(errors: int, warnings: int) -> str:
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' * (errors != 1)}")
    if warnings:
        parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    return f" ({', '.join(parts)})" if parts else ""


def _summary_tail(data: Any) -> str:
    from pydantic import ValidationError

    from app.script.cost import estimate_credits
    from app.script.model import Movie

    try:
        movie = Movie.model_validate(data)
    except ValidationError:
        return ""
    return (
        f": {len(movie.scenes)} scene{'s' * (len(movie.scenes) != 1)}, "
        f"{movie.total_duration:g} s, {movie.width}×{movie.height} at {movie.fps:g} fps, "
        f"estimated cost {estimate_credits(movie)} credits"
    )


def _load_movie(args: argparse.Namespace) -> tuple[Any, Path]:
    """The script of a render command as a Movie, or exit 1 with its problems printed."""
    from app.script.model import Movie

    path = Path(args.file)
    variables = load_variables(Path(args.vars)) if args.vars else None
    report = _check_script(path, variables, measure=True)
    if not report.ok:
        _print_problems(path, report, sys.stderr)
        raise _Exit(EXIT_INVALID, f"{path}: the script has errors; nothing was rendered")
    for problem, loc in report.located():  # warnings
        where = f" {problem.path_text}:" if problem.path else ""
        print(f"{path}:{loc.line}:{loc.column}: warning:{where} {problem.message}", file=sys.stderr)
    return Movie.model_validate(report.resolved), path.resolve().parent


class _Exit(Exception):
    """Leave a command with an exit code and a one-line message on stderr."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _scale(value: str) -> float:
    try:
        scale = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < scale <= 4:
        raise argparse.ArgumentTypeError("scale must be greater than 0 and at most 4")
    return scale


class _ProgressBar:
    """`[#######-------]  45%  120/300 frames  28.5 fps  ETA 0:06` on a terminal; a line per
    10 % otherwise (logs, CI)."""

    def __init__(self, frames: int, stream: Any) -> None:
        import time

        self.frames = frames
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last_step = -1
        self._time = time.monotonic

    def __call__(self, fraction: float) -> None:
        done = min(self.frames, round(fraction * self.frames))
        elapsed = max(1e-6, self._time() - self.started)
        fps = done / elapsed
        eta = (self.frames - done) / fps if fps > 0 else 0.0
        if self.tty:
            width = 28
            filled = round(width * fraction)
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(
                f"\r[{bar}] {fraction:4.0%}  {done}/{self.frames} frames  {fps:5.1f} fps  "
                f"ETA {int(eta) // 60}:{int(eta) % 60:02d} "
            )
            self.stream.flush()
        else:
            step = int(fraction * 10)
            if step > self.last_step:
                self.last_step = step
                print(
                    f"{fraction:4.0%}  {done}/{self.frames} frames  {fps:.1f} fps", file=self.stream
                )

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _cmd_render(args: argparse.Namespace) -> int:
    from app.media.errors import MediaError
    from app.render.compositor import RenderError
    from app.render.engine import RenderCancelled, render_movie
    from app.script.timeline import Timeline

    movie, base_dir = _load_movie(args)
    out = Path(args.output)
    if out.is_dir():
        raise CliError(f"{out}: is a folder; give a file name like {out / 'movie.mp4'}")
    bar = None if args.quiet else _ProgressBar(Timeline(movie).frame_count(), sys.stderr)
    try:
        result = render_movie(
            movie, out, base_dir=base_dir, scale=args.scale, jobs=args.jobs, progress=bar
        )
    except RenderCancelled:
        raise _Exit(130, "cancelled; nothing was written") from None
    except KeyboardInterrupt:
        raise _Exit(130, "cancelled; nothing was written") from None
    except RenderError as exc:
        where = f"{exc.path}: " if exc.path else ""
        raise _Exit(EXIT_MEDIA, f"{where}{exc.message} ({exc.src})") from None
    except MediaError as exc:
        if exc.reason == "write_failed":
            raise CliError(str(exc)) from None
        raise _Exit(EXIT_MEDIA, str(exc)) from None
    except OSError as exc:
        raise CliError(f"{out}: cannot write: {exc.strerror or exc}") from None
    finally:
        if bar is not None:
            bar.finish()
    if not args.quiet:
        print(
            f"{result.path}: {result.frames} frames, {result.duration_seconds:.2f} s, "
            f"rendered in {result.seconds_taken:.1f} s"
        )
    return EXIT_OK


def _cmd_frame(args: argparse.Namespace) -> int:
    from app.media.errors import MediaError
    from app.render.compositor import Compositor, RenderError
    from app.render.engine import default_media_cache
    from app.render.media_provider import MediaFiles

    movie, base_dir = _load_movie(args)
    out = Path(args.output)
    try:
        with MediaFiles(default_media_cache()) as media:
            compositor = Compositor(movie, media, base_dir, strict=True)
            image = compositor.render_frame(args.at, args.scale)
    except RenderError as exc:
        where = f"{exc.path}: " if exc.path else ""
        raise _Exit(EXIT_MEDIA, f"{where}{exc.message} ({exc.src})") from None
    except MediaError as exc:
        raise _Exit(EXIT_MEDIA, str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.stem}.part.png")  # the suffix tells Qt the format
    if not image.save(str(partial)):
        partial.unlink(missing_ok=True)
        raise CliError(f"{out}: cannot write the image")
    partial.replace(out)
    if not args.quiet:
        print(f"{out}: frame at {args.at:g} s, {image.width()}×{image.height()}")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    from app.script.schema import build_schema, schema_text

    sys.stdout.write(schema_text(build_schema()))
    return EXIT_OK


def _cmd_examples(args: argparse.Namespace) -> int:
    from app.examples import default_examples_dir, install_examples
    from app.media.errors import MediaError

    target = Path(args.dir) if args.dir else default_examples_dir()
    try:
        folder = install_examples(target)
    except (OSError, MediaError) as exc:
        raise CliError(f"{target}: cannot write the examples: {exc}") from None
    print(folder)
    for script in sorted(folder.glob("*.json")):
        print(f"  {script.name}")
    return EXIT_OK


def _cmd_studio(args: argparse.Namespace) -> int:
    from app.studio.main import run_studio

    return int(run_studio(Path(args.file) if args.file else None))


def _cmd_serve(args: argparse.Namespace) -> int:
    from app.server.serve import ServeError, create_account, run

    data = Path(args.data) if args.data else None
    try:
        if args.serve_command == "create-account":
            return create_account(
                plan=args.plan,
                credits=args.credits,
                data=data,
                rate_limit=args.rate_limit,
                concurrency=args.concurrency,
                as_json=args.json,
            )
        return run(
            host=args.host, port=args.port, data=data, stall_warning_ms=args.stall_warning_ms
        )
    except ServeError as exc:
        raise CliError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reelsmith",
        description="Compose videos scene by scene; validate, preview and render them.",
    )
    parser.add_argument("--version", action="version", version=f"reelsmith {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    studio = sub.add_parser("studio", help="open the studio (the default command)")
    studio.add_argument("file", nargs="?", help="a movie script to open")
    studio.set_defaults(func=_cmd_studio)

    validate = sub.add_parser(
        "validate",
        help="check a movie script (exit 0 valid, 1 errors, 2 cannot read)",
        description="Check a movie script against the schema, the cross-field rules and lint. "
        "Exit 0 when there are no errors (warnings allowed), 1 when there are errors, 2 when "
        "the file cannot be read or the arguments are wrong.",
    )
    validate.add_argument("file", help="the movie script (JSON)")
    validate.add_argument("--vars", metavar="VARS.json", help="template variable values")
    validate.add_argument(
        "--schema", metavar="PATH_OR_URL", help="validate against this JSON Schema instead"
    )
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.add_argument(
        "--remote",
        action="store_true",
        help="the target is a remote render service: local media files are errors",
    )
    validate.set_defaults(func=_cmd_validate)

    render = sub.add_parser(
        "render",
        help="render a script to MP4 on this machine (exit 0 ok, 1 script errors, 2 usage or "
        "I/O, 3 media or render failure)",
    )
    render.add_argument("file", help="the movie script (JSON)")
    render.add_argument("-o", "--output", required=True, metavar="OUT.mp4")
    render.add_argument("--vars", metavar="VARS.json", help="template variable values")
    render.add_argument("--scale", type=_scale, default=1.0, help="size factor (0.5 = half)")
    render.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    render.add_argument("--quiet", action="store_true", help="no progress bar")
    render.set_defaults(func=_cmd_render)

    frame = sub.add_parser("frame", help="render one frame to PNG")
    frame.add_argument("file", help="the movie script (JSON)")
    frame.add_argument("--at", type=float, required=True, metavar="SECONDS")
    frame.add_argument("-o", "--output", required=True, metavar="OUT.png")
    frame.add_argument("--vars", metavar="VARS.json", help="template variable values")
    frame.add_argument("--scale", type=_scale, default=1.0)
    frame.add_argument("--quiet", action="store_true")
    frame.set_defaults(func=_cmd_frame)

    schema = sub.add_parser("schema", help="print the bundled JSON Schema")
    schema.set_defaults(func=_cmd_schema)

    examples = sub.add_parser(
        "examples",
        help="copy the example scripts to a folder and generate their sample media",
    )
    examples.add_argument("dir", nargs="?", help="where to put them (default: user data folder)")
    examples.set_defaults(func=_cmd_examples)

    serve = sub.add_parser(
        "serve",
        help="run the local render service (PhantomFlow contract) until Ctrl-C",
        description="Run the local render service. The first line printed is its URL. "
        "Binds 127.0.0.1 unless --host says otherwise; --port 0 picks a free port.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=48213, help="port (default 48213; 0 = any)")
    serve.add_argument("--data", metavar="DIR", help="the service's data folder")
    serve.add_argument(
        "--stall-warning-ms",
        type=float,
        default=100.0,
        metavar="MS",
        help="log a warning when the event loop is blocked longer than this, measured to a "
        "quarter of it (default 100; 0 off)",
    )
    serve.set_defaults(func=_cmd_serve, serve_command=None)
    serve_sub = serve.add_subparsers(dest="serve_command", metavar="ACTION", parser_class=_Parser)
    account = serve_sub.add_parser(
        "create-account",
        help="create an account and print its keys (the only time they are shown)",
    )
    account.add_argument("--plan", required=True, choices=("free", "starter", "pro", "enterprise"))
    account.add_argument("--credits", type=int, required=True, help="starting balance")
    account.add_argument("--rate-limit", type=int, help="enterprise: requests per minute")
    account.add_argument("--concurrency", type=int, help="enterprise: concurrent jobs")
    account.add_argument("--data", metavar="DIR", default=argparse.SUPPRESS)
    account.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            args = parser.parse_args(["studio"])
        return int(args.func(args))
    except CliError as exc:
        print(f"reelsmith: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except _Exit as exc:
        print(f"reelsmith: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("reelsmith: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
