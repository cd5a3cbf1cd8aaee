"""Português do Brasil: the mechanism, the catalog's completeness, and every command in pt-BR.

The leak check looks for English words in the human output of a pt-BR run once the tokens
that stay English on purpose (option names, op names, setting values, commands) are removed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from chainrule import i18n
from chainrule.cli import main
from chainrule.i18n import (
    AmbiguousNumber,
    expression_numbers,
    number,
    parse_number,
    use_language,
)

ROOT = Path(__file__).resolve().parents[1]

# Words that only English uses: any of them in pt-BR output is an untranslated sentence.
ENGLISH_WORDS = {
    "the", "and", "of", "is", "are", "to", "with", "for", "from", "on", "at", "by", "not",
    "layer", "layers", "gradient", "gradients", "weights", "weight", "learning", "rate",
    "training", "each", "every", "when", "which", "where", "this", "that", "gate", "gates",
    "input", "inputs", "output", "value", "values", "passes", "back", "backward", "pass",
    "shows", "show", "print", "write", "draw", "file", "default", "cost", "network", "units",
    "dead", "saturated", "healthy", "vanishing", "exploding", "verdict", "wrote", "seconds",
    "step", "steps", "epoch", "epochs", "accuracy", "images", "seeds", "hidden", "speed",
    "options", "usage", "commands", "help", "error", "try", "note", "warning", "problem",
}
# Tokens that stay English on purpose: setting values and names a user types.
ALLOWED = {
    "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "quadratic", "cross-entropy", "bce",
    "mse", "nielsen", "nielsen-large", "xavier", "he", "uniform", "scale", "standardize",
    "raw", "sample", "mnist", "MNIST", "ReLU", "sgd", "adam", "norms", "speed", "accuracy",
    "diagnosis", "toy", "simple", "neuron", "neuron-sigmoid", "staged", "max", "fanout",
    "exploding", "vanishing", "inputs", "outputs", "batch", "limit", "loss", "data", "fail",
    "sleep", "add", "mul", "sub", "div", "exp", "log", "sum", "mean", "chainrule",
}


def english_leaks(text: str) -> list[str]:
    """English words left in ``text`` after the technical tokens are removed."""
    kept = []
    for line in text.splitlines():
        if line.strip().startswith("chainrule "):  # an example command line
            continue
        line = re.sub(r"--[\w-]+|`[^`]*`|'[^']*'|\"[^\"]*\"|\S+\.(png|svg|pdf|npz|jsonl|toml|py)"
                      r"|Neural Networks and Deep Learning", " ", line)
        kept.append(line)
    words = re.findall(r"[^\W\d_][\w'-]*", "\n".join(kept))  # whole words: até is not at
    # Upper-case words are metavars (OPTIONS, FILE), the names a user types.
    return sorted({w for w in words
                   if w not in ALLOWED and not w.isupper() and w.lower() in ENGLISH_WORDS})


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def pt(*args: str) -> str:
    code, out = run("--lang", "pt-BR", *args)
    assert code == 0, out
    assert not english_leaks(out), (english_leaks(out), out)
    return out


# ---------------------------------------------------------------- the mechanism


@pytest.mark.parametrize("tag, expected", [
    ("pt-BR", "pt_BR"), ("pt_BR.UTF-8", "pt_BR"), ("PT-br", "pt_BR"), ("pt", "pt_BR"),
    ("en_US.UTF-8", "en"), ("C", None), ("POSIX", None), ("", None), ("de_DE", None),
])
def test_normalize(tag: str, expected: str | None) -> None:
    assert i18n.normalize(tag) == expected


def test_language_follows_environment_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CHAINRULE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert i18n.language() == "en"
    monkeypatch.setenv("LANG", "pt_BR.UTF-8")
    assert i18n.language() == "pt_BR"
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")  # LC_ALL wins over LANG
    assert i18n.language() == "en"
    monkeypatch.setenv("CHAINRULE_LANG", "pt-BR")  # and CHAINRULE_LANG over both
    assert i18n.language() == "pt_BR"
    with use_language("en"):
        assert i18n.language() == "en" and i18n._("gate") == "gate"
    assert i18n._("gate") == "porta"


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language 'xx'; choose one of en, pt-BR"):
        i18n.set_language("xx")
    code, out = run("--lang", "xx", "demo")
    assert code == 2 and "unknown language 'xx'" in out


def test_lazy_and_plural() -> None:
    lazy = i18n.lazy_gettext("gate")
    with use_language("pt-BR"):
        assert str(lazy) == "porta" and f"{lazy}!" == "porta!"
        assert i18n.ngettext("{count} more node", "{count} more nodes", 1) == "mais {count} nó"
        assert i18n.ngettext("{count} more node", "{count} more nodes", 3) == "mais {count} nós"
    assert str(lazy) == "gate"


def test_numbers_for_people() -> None:
    with use_language("pt-BR"):
        assert number(-0.7311, ".4g") == "-0,7311"
        assert number(1234567.5, ",.1f") == "1.234.567,5"
        assert number(0.25, ".1%") == "25,0%"
    assert number(-0.7311, ".4g") == "-0.7311"
    assert number(1234567.5, ",.1f") == "1,234,567.5"


def test_parse_number_pt_br() -> None:
    with use_language("pt-BR"):
        assert parse_number("1,5") == 1.5
        assert parse_number("-0,25") == -0.25
        assert parse_number("0.5") == 0.5  # a point is never a thousands mark on a command line
        assert parse_number("1.000,5") == 1000.5
        assert parse_number("1e-3") == 0.001
        with pytest.raises(AmbiguousNumber, match="1.000.*1000"):
            parse_number("1.000")
        with pytest.raises(ValueError, match="não é um número"):
            parse_number("abc")


def test_parse_number_english_explains_a_decimal_comma() -> None:
    assert parse_number("1.5") == 1.5
    with pytest.raises(AmbiguousNumber) as info:
        parse_number("1,5")
    message = str(info.value)
    assert "1.5" in message and "list (1, 5)" in message and "--lang pt-BR" in message


def test_expression_decimal_commas() -> None:
    with use_language("pt-BR"):
        assert expression_numbers("1,5*x + max(x, 0,5)") == "1.5*x + max(x, 0.5)"
        assert expression_numbers("max(1,5, 2)") == "max(1.5, 2)"
        assert expression_numbers("max(x,y)") == "max(x,y)"
        with pytest.raises(AmbiguousNumber, match="1,5.*1 e 5"):
            expression_numbers("max(1,5)")
    assert expression_numbers("1,5*x") == "1,5*x"  # English: commas stay commas


def test_import_chainrule_stays_light() -> None:
    code = ("import sys, chainrule, chainrule.i18n; "
            "print('babel' in sys.modules, 'click' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={"PYTHONPATH": str(ROOT / "src"),
                                           "CHAINRULE_LANG": "pt-BR"})
    assert done.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- the catalog


def test_catalog_is_complete() -> None:
    """Every English text of the package (``_``/``N_``/``ngettext`` calls, every command's and
    option's help, click's own words) has a pt-BR translation that is not fuzzy."""
    from chainrule.i18n_catalog import extract, untranslated

    template = extract()
    assert len(template) > 500
    assert untranslated("pt_BR", template) == []


def test_compiled_catalog_is_current() -> None:
    """The shipped .mo is exactly what the .po compiles to (run scripts/catalog.py compile)."""
    from chainrule.i18n_catalog import compiled, mo_path

    assert mo_path("pt_BR").read_bytes() == compiled("pt_BR")


def test_translations_keep_their_placeholders() -> None:
    import string

    from chainrule.i18n_catalog import read

    def fields(text: str) -> set[str]:
        return {f[1] for f in string.Formatter().parse(text) if f[1] is not None}

    for message in read("pt_BR"):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert all(fields(s) <= fields(ids[-1]) | fields(ids[0]) for s in strings), message.id


def test_wheel_ships_the_compiled_catalog() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"locale/*/LC_MESSAGES/*.mo"' in text and '"babel>=2.12"' in text
    assert (ROOT / "src/chainrule/locale/pt_BR/LC_MESSAGES/chainrule.mo").is_file()


def test_glossary_terms_are_the_catalog_terms() -> None:
    """The terms of docs/pt-BR/glossario.md are the ones the catalog uses."""
    from chainrule.i18n_catalog import read

    glossary = (ROOT / "docs/pt-BR/glossario.md").read_text(encoding="utf-8")
    translations = " ".join(
        s for m in read("pt_BR") for s in ([m.string] if isinstance(m.string, str)
                                            else m.string)).lower()
    for term in ("regra da cadeia", "gradiente local", "circuito", "porta", "neurônio",
                 "camada oculta", "peso", "viés", "taxa de aprendizado", "função de custo",
                 "dissipação do gradiente", "explosão do gradiente", "saturação",
                 "unidades mortas", "retropropagação"):
        assert term in glossary.lower(), term
        assert term in translations, term


# ---------------------------------------------------------------- every command in pt-BR


def test_help_of_every_command_in_portuguese() -> None:
    out = pt("--help")
    assert "Uso:" in out and "Opções:" in out and "Comandos:" in out
    assert "Mostra esta mensagem e sai." in out
    for name in ("demo", "circuit", "train", "data", "chain", "vanishing", "diagnose",
                 "study", "serve", "sweep"):
        out = pt(name, "--help")
        assert "Uso:" in out and "Mostra esta mensagem e sai." in out, name
    assert "taxa de aprendizado" in pt("train", "--help")
    assert "Exemplos:" in pt("circuit", "--help")
    for sub in ("fetch", "info"):
        pt("data", sub, "--help")
    for sub in ("input-scale", "lr"):
        pt("study", sub, "--help")
    # English help is untouched in the same process.
    code, out = run("circuit", "--help")
    assert "Show every gate" in out and "Usage:" in out


def test_circuit_in_portuguese_with_the_notes_numbers() -> None:
    out = pt("circuit", "(x+y)*z", "--at", "x=-2", "y=5", "z=-4", "--steps", "--explain",
             "--check")
    assert "(x+y)*z  =  -12" in out
    assert "∂f/∂x = -4  ∂f/∂y = -4  ∂f/∂z = 3" in out
    assert "portas na ordem da propagação" in out and "retropropagação" in out
    assert "a soma distribui: cada entrada recebe o gradiente de cima sem mudança" in out
    assert "A porta #4 multiplica #2 e z e dá -12" in out
    assert "verificação do gradiente" in out and "bom" in out


def test_circuit_reads_decimal_commas_in_portuguese() -> None:
    out = pt("circuit", "x*y", "--at", "x=1,5", "y=2")
    assert "x*y  =  3" in out and "∂f/∂x = 2  ∂f/∂y = 1,5" in out
    out = pt("circuit", "2,5*x", "--at", "x=2")
    assert "=  5" in out
    code, out = run("--lang", "pt-BR", "circuit", "max(1,5)")
    assert code == 1 and "1,5 é o número 1,5 ou os dois argumentos 1 e 5" in out
    # In English the same input is explained, not misread.
    code, out = run("circuit", "x*y", "--at", "x=1,5", "y=2")
    assert code == 2 and "with a decimal comma it is 1.5" in out


def test_circuit_example_and_errors_in_portuguese() -> None:
    out = pt("circuit", "--example", "fanout")
    assert "x é usado duas vezes" in out and "fan-out: x alimenta 2 fios" in out
    code, out = run("--lang", "pt-BR", "circuit", "2x")
    assert code == 1 and "escreva 2*x, não 2x" in out and not english_leaks(out)
    code, out = run("--lang", "pt-BR", "circuit", "--bogus")
    assert code == 2 and "Não existe a opção '--bogus'" in out


def test_json_keys_and_numbers_stay_plain() -> None:
    code, en = run("circuit", "--example", "simple", "--json", "--check")
    code_pt, pt_out = run("--lang", "pt-BR", "circuit", "--example", "simple", "--json",
                          "--check")
    assert code == code_pt == 0
    a, b = json.loads(en), json.loads(pt_out)
    assert a.keys() == b.keys() and a["gradients"] == b["gradients"] == {
        "x": -4.0, "y": -4.0, "z": 3.0}
    assert [r["verdict"] for r in a["check"]] == [r["verdict"] for r in b["check"]]


def test_lr_and_lists_in_portuguese() -> None:
    code, out = run("--lang", "pt-BR", "chain", "--weights", "1,5", "--biases", "0;0")
    assert code == 2 and "ambíguo" in out and "1;5" in out
    out = pt("chain", "--weights", "0,8;-0,6;1,3;0,4", "--biases", "0,1;-0,3;0,5;-0,2")
    assert "Dissipação do gradiente" in out and "0,8" in out
    code, out = run("--lang", "pt-BR", "study", "lr", "--lrs", "abc")
    assert code == 2 and "não é uma lista de números" in out


def test_chain_vanishing_example_in_portuguese() -> None:
    out = pt("chain", "--example", "vanishing")
    assert "uma cadeia de 4 neurônios sigmoides" in out
    assert "os dois cálculos concordam" in out
    assert "∂C/∂b1 / ∂C/∂b3 = -0,03522" in out
    assert "Dissipação do gradiente" in out and "28,4× mais devagar" in out
    out = pt("chain", "--example", "exploding")
    assert "Explosão do gradiente" in out


def test_chain_monte_carlo_in_portuguese() -> None:
    out = pt("chain", "--layers", "3", "--monte-carlo", "300")
    assert "300 cadeias aleatórias de 3 neurônios" in out


def test_demo_in_portuguese() -> None:
    out = pt("demo")
    assert "Motor escalar" in out and "a soma distribui o gradiente" in out


def test_vanishing_in_portuguese_with_environment_variable() -> None:
    code, out = run("vanishing", "--sizes", "784,30,30,10", "--samples", "50", "--seeds", "2",
                    env={"CHAINRULE_LANG": "pt-BR"})
    assert code == 0, out
    assert not english_leaks(out), english_leaks(out)
    assert "camada oculta" in out and "o gradiente se dissipa" in out


def test_diagnose_in_portuguese() -> None:
    out = pt("diagnose", "--sizes", "784,30,30,30,30,30,10", "--samples", "100")
    assert "veredito:" in out and "dissipação do gradiente" in out
    assert "taxa de aprendizado" in out or "velocidade de aprendizado" in out
    code, js = run("--lang", "pt-BR", "diagnose", "--sizes", "784,30,30,30,30,30,10",
                   "--samples", "100", "--json")
    data = json.loads(js)
    assert data["verdict"] == "vanishing" and data["model"].startswith("fresh 784,30")
    assert {f["rule"] for f in data["findings"]} <= {
        "vanishing", "saturation", "output-saturation", "step-size", "growth", "dead",
        "inputs", "nonfinite", "flow"}


def test_diagnose_dead_units_in_portuguese() -> None:
    out = pt("diagnose", "--sizes", "784,30,30,10", "--activation", "relu", "--init",
             "nielsen-large", "--preprocess", "raw", "--samples", "100")
    assert "veredito:" in out


def test_study_and_train_in_portuguese(tmp_path: Path) -> None:
    out = pt("study", "input-scale", "--sizes", "784,10,10", "--epochs", "1", "--samples", "100")
    assert "A porta de multiplicação z = w·x" in out
    out = pt("study", "lr", "--sizes", "784,10,10", "--epochs", "1", "--samples", "100",
             "--lrs", "0,1;1")
    assert "custo de treino" in out
    code, out = run("--lang", "pt-BR", "train", "--sizes", "784,10,10", "--epochs", "1",
                    "--limit", "100", "--lr", "0,5")
    assert code == 0, out
    assert "época" in out and "custo de treino" in out and not english_leaks(out)


def test_data_and_sweep_in_portuguese(tmp_path: Path) -> None:
    out = pt("data", "info")
    assert "conjuntos de dados" in out
    code, out = run("--lang", "pt-BR", "sweep", "--depth", "1..2", "--dry-run", "--out",
                    str(tmp_path / "s.jsonl"))
    assert code == 0, out and "células" in out


def test_dot_picture_in_portuguese() -> None:
    from chainrule import circuit
    from chainrule.viz import to_dot

    c = circuit.run("x*y + x", {"x": 3.0, "y": -2.0})
    with use_language("pt-BR"):
        dot = to_dot(c.graph)
    assert "valores acima dos fios" in dot and "gradientes abaixo deles" in dot


def test_plot_titles_and_axes_in_portuguese(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Every word a plot shows (titles, axes, legends) comes from the catalog."""
    from chainrule.commands import _lab

    texts: list[str] = []

    def capture(fig: object, path: Path) -> None:
        for ax in fig.axes:  # type: ignore[attr-defined]
            texts.extend([ax.get_title(), ax.get_xlabel(), ax.get_ylabel()])
            legend = ax.get_legend()
            if legend is not None:
                texts.extend(t.get_text() for t in legend.get_texts())
        suptitle = fig._suptitle  # type: ignore[attr-defined]
        if suptitle is not None:
            texts.append(suptitle.get_text())
        _lab.pyplot().close(fig)

    monkeypatch.setattr(_lab, "save_figure", capture)
    for module in ("chain", "vanishing", "diagnose", "study"):
        monkeypatch.setattr(f"chainrule.commands.{module}.save_figure", capture)
    plot = str(tmp_path / "p.png")
    pt("chain", "--example", "vanishing", "--plot", plot)
    pt("chain", "--layers", "3", "--monte-carlo", "200", "--plot", plot)
    pt("vanishing", "--sizes", "784,30,30,10", "--samples", "30", "--seeds", "2", "--plot", plot)
    pt("diagnose", "--sizes", "784,30,30,10", "--samples", "50", "--plot", plot)
    pt("study", "lr", "--sizes", "784,10,10", "--epochs", "1", "--samples", "60", "--lrs",
       "0,1;1", "--plot", plot)
    shown = "\n".join(t for t in texts if t)
    assert "Cadeia de 4 neurônios sigmoides: dissipação do gradiente" in shown
    assert "camada oculta (lado da entrada primeiro)" in shown
    assert "tamanho do gradiente por camada" in shown
    assert "taxa de aprendizado" in shown
    assert not english_leaks(shown), (english_leaks(shown), shown)


def test_no_translation_call_hides_inside_an_f_string() -> None:
    """Babel cannot read an f-string's fields: a ``_()`` there would never reach the catalog."""
    import io
    import tokenize

    hidden = []
    for path in sorted((ROOT / "src" / "chainrule").rglob("*.py")):
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
        for tok in tokens:
            prefix = tok.string[:2].lower()
            if tok.type == tokenize.STRING and ("f" in prefix.split('"')[0].split("'")[0]):
                if re.search(r"\{[^}]*\b(_|N_|ngettext)\(", tok.string):
                    hidden.append(f"{path.name}:{tok.start[0]}")
    assert hidden == []


def test_help_before_lang_is_still_portuguese() -> None:
    code, out = run("--help", "--lang", "pt-BR")
    assert code == 0 and "Uso:" in out and "Comandos:" in out
    code, out = run("--lang=pt-BR", "demo", "--help")
    assert code == 0 and "Uso:" in out
    # A subcommand's own words after its name are never taken for the group's --lang.
    code, out = run("circuit", "--lang", "pt-BR")
    assert code == 2 and "No such option" in out


def test_vanishing_compare_and_circuit_corners_in_portuguese() -> None:
    out = pt("vanishing", "--compare", "activation", "--sizes", "784,30,30,10", "--samples",
             "30", "--seeds", "2")
    assert "por ativação" in out and "última / primeira" in out
    out = pt("circuit", "relu(x)*y + max(x, z)", "--at", "x=0", "y=2", "z=0", "--explain",
             "--check")
    assert "ponto anguloso" in out and "entradas empatam em 0" in out
    code, out = run("--lang", "pt-BR", "circuit", "x+y", "--at", "x=1")
    assert code == 1 and "sem valor para y: dê y=..." in out and not english_leaks(out)


def test_sweep_lists_of_decimals_in_portuguese(tmp_path: Path) -> None:
    out_file = str(tmp_path / "s.jsonl")
    code, out = run("--lang", "pt-BR", "sweep", "--lr", "0,5;1", "--depth", "1", "--measure",
                    "speed", "--dry-run", "--json", "--out", out_file)
    assert code == 0, out
    assert [c["params"]["lr"] for c in json.loads(out)["cells"]] == [0.5, 1.0]
    code, out = run("--lang", "pt-BR", "sweep", "--lr", "0,5;1", "--depth", "1", "--dry-run",
                    "--out", out_file)
    assert code == 1 and "lr não afeta a medida norms" in out and not english_leaks(out)


# ---------------------------------------------------------------- errors in Portuguese


def _pt_error(*args: str) -> str:
    """A pt-BR run that must fail with a one-line error in Portuguese, no traceback."""
    code, out = run("--lang", "pt-BR", *args)
    assert code in (1, 2), out
    assert "Traceback" not in out and not english_leaks(out), (english_leaks(out), out)
    return out


def test_corrupt_checkpoints_are_explained_in_portuguese(tmp_path: Path) -> None:
    import numpy as np

    from chainrule.nn import MLP
    from chainrule.nn.checkpoint import save_model

    garbage = tmp_path / "broken.npz"
    garbage.write_bytes(b"this is not a zip archive at all")
    out = _pt_error("diagnose", str(garbage))
    assert "não é um checkpoint legível (não é um arquivo zip)" in out
    out = _pt_error("train", "--resume", "--checkpoint", str(garbage), "--epochs", "1",
                    "--limit", "50")
    assert "não é um checkpoint legível" in out
    cut = tmp_path / "cut.npz"
    save_model(MLP([4, 3, 2], seed=0), cut)
    cut.write_bytes(cut.read_bytes()[:-40])
    assert "não é um checkpoint legível" in _pt_error("diagnose", str(cut))
    no_meta = tmp_path / "nometa.npz"
    np.savez(no_meta, a=np.zeros(3))
    assert "não é um checkpoint do chainrule (falta a entrada 'meta')" in _pt_error(
        "diagnose", str(no_meta))
    model_only = tmp_path / "model.npz"
    save_model(MLP([4, 3, 2], seed=0), model_only)
    out = _pt_error("train", "--resume", "--checkpoint", str(model_only), "--epochs", "1",
                    "--limit", "50")
    assert "não é um checkpoint de treino" in out
    assert "arquivo de checkpoint inexistente" in _pt_error("diagnose",
                                                            str(tmp_path / "absent.npz"))


def test_a_gate_without_a_finite_local_gradient_in_portuguese() -> None:
    out = _pt_error("circuit", "sqrt(x)", "--at", "x=0", "--steps")
    assert "sqrt não tem gradiente finito em x = 0 (divisão de float por zero)" in out
    assert "retropropagação" in out
    out = _pt_error("circuit", "log(x)", "--at", "x=-1")
    assert "a entrada está fora do domínio da operação" in out
    out = _pt_error("circuit", "1/x", "--at", "x=0")
    assert "div(1, 0): divisão por zero" in out


def test_bad_sizes_for_train_in_portuguese() -> None:
    out = _pt_error("train", "--sizes", "5,10", "--epochs", "1", "--limit", "50")
    assert "o primeiro tamanho é 5, mas os dados têm 784 entradas por exemplo" in out
    out = _pt_error("train", "--sizes", "784,30,3", "--epochs", "1", "--limit", "50")
    assert "o último tamanho é 3, mas os dados têm 10 classes" in out


def test_engine_and_library_errors_keep_english_and_translate(tmp_path: Path) -> None:
    import chainrule as cr
    from chainrule.errors import DivisionByZeroError, NumericError
    from chainrule.nn.checkpoint import CheckpointError, read_checkpoint
    from chainrule.nn.training import TrainConfig

    x = cr.Value(0.0)
    for lang, words in (("en", "the local gradient of sqrt at 0 is not finite "
                                "(float division by zero)"),
                        ("pt-BR", "o gradiente local de sqrt em 0 não é finito "
                                  "(divisão de float por zero)")):
        with use_language(lang):
            y = x.sqrt()
            with pytest.raises(NumericError, match=re.escape(words)):
                y.backward()
    with use_language("pt-BR"), pytest.raises(DivisionByZeroError, match="divisão por zero"):
        cr.Value(1.0) / 0.0
    with pytest.raises(DivisionByZeroError, match=r"div\(1, 0\): division by zero$"):
        cr.Value(1.0) / 0.0
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"nope")
    with use_language("pt-BR"), pytest.raises(CheckpointError, match="não é um arquivo zip"):
        read_checkpoint(bad)
    with pytest.raises(CheckpointError, match=r"not a readable checkpoint \(not a zip archive\)"):
        read_checkpoint(bad)
    with use_language("pt-BR"), pytest.raises(ValueError,
                                              match="a taxa de aprendizado precisa ser positiva"):
        TrainConfig(lr=-1.0)
    with use_language("pt-BR"), pytest.raises(ValueError, match="ativação desconhecido"):
        TrainConfig(activation="nope")


def test_the_pytorch_doctor_explains_in_portuguese() -> None:
    torch = pytest.importorskip("torch")
    from chainrule.torch import diagnose
    from chainrule.torch.doctor import DoctorError

    x = torch.zeros(4, 3)
    with use_language("pt-BR"), pytest.raises(DoctorError, match="não tem parâmetros"):
        diagnose(torch.nn.ReLU(), x, torch.zeros(4, dtype=torch.long))
    with use_language("pt-BR"), pytest.raises(DoctorError,
                                              match="o lote não serve para o modelo"):
        diagnose(torch.nn.Linear(5, 2), x, torch.zeros(4, dtype=torch.long))
    with pytest.raises(DoctorError, match="the batch does not fit the model"):
        diagnose(torch.nn.Linear(5, 2), x, torch.zeros(4, dtype=torch.long))


def test_tensor_errors_in_portuguese_and_english() -> None:
    import chainrule as cr
    from chainrule.errors import GraphError, ShapeError

    a, b = cr.tensor([[1.0, 2.0]]), cr.tensor([[1.0, 2.0, 3.0]])
    with pytest.raises(ShapeError, match=r"inner dimensions 2 and 1 differ$"):
        a @ b
    with use_language("pt-BR"):
        with pytest.raises(ShapeError, match="as dimensões internas 2 e 1 diferem"):
            a @ b
        with pytest.raises(ShapeError, match="não é uma permutação dos eixos"):
            a.permute(0, 0)
        with pytest.raises(GraphError, match="este tensor não pede gradiente"):
            a.sum().backward()


# ---------------------------------------------------------------- no English slips through

# A message that stays English on purpose says why on its raise line or the line above.
UNTRANSLATED = "# untranslated:"
_TRANSLATING = {"_", "N_", "ngettext", "lazy_gettext"}


def _english_literals(node: object) -> list[str]:
    """The string literals with words in ``node`` that no ``_()``/``N_()`` call wraps: the
    parts of an f-string, a concatenation, ``"...".format(...)`` and the arguments it formats.
    Option names (``--json``), dotted names (``chainrule.lab.``), subscripts (``params['seed']``),
    comparisons and the arguments of other calls (``meta.get("version")``) are not message text."""
    import ast

    found: list[str] = []

    def visit(n: ast.AST) -> None:
        if isinstance(n, ast.Call):
            if isinstance(n.func, ast.Attribute):  # "...".format(...), ", ".join(...)
                visit(n.func.value)
                if n.func.attr == "format":
                    for child in [*n.args, *(k.value for k in n.keywords)]:
                        visit(child)
            # Other calls (_(), repr(x), meta.get("version")) take no message text.
            return
        if isinstance(n, ast.Constant):
            text = re.sub(r"--[\w-]+|\w+(\.\w+)*\.", "", n.value) if isinstance(
                n.value, str) else ""
            if re.search(r"[^\W\d_]{2,}", text):
                found.append(n.value)
            return
        if isinstance(n, ast.Subscript):
            visit(n.value)
            return
        if isinstance(n, (ast.Attribute, ast.Compare)):  # x.name, name == "max"
            return
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)  # type: ignore[arg-type]
    return found


def _untranslated_messages(root: Path) -> tuple[list[str], list[str]]:
    """(messages with English words outside the catalog, those marked as English on purpose),
    each as ``file:line: text``: the messages of ``raise SomeError(...)`` (an exception class,
    named with a capital) and of ``warn(...)``, positional arguments only (keywords such as
    ``param_hint="--at"`` or ``kind="limit"`` are identifiers)."""
    import ast

    slipped: list[str] = []
    marked: list[str] = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                call = node.exc
                name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(
                    call.func, "id", "")
                if not name[:1].isupper():  # raise _located(exc, "parse"): a helper
                    continue
            elif isinstance(node, ast.Call) and (
                    getattr(node.func, "attr", None) == "warn"
                    or getattr(node.func, "id", None) == "warn"):
                call = node
            else:
                continue
            texts = [t for arg in call.args for t in _english_literals(arg)]
            if not texts:
                continue
            where = f"{path.relative_to(root)}:{node.lineno}: {texts[0]!r}"
            near = lines[node.lineno - 1] + (lines[node.lineno - 2] if node.lineno > 1 else "")
            (marked if UNTRANSLATED in near else slipped).append(where)
    return slipped, marked


def test_every_raised_message_goes_through_the_catalog() -> None:
    """``raise SomeError("...")`` or ``warnings.warn(f"...")`` without ``_()`` would show English
    to a pt-BR reader: every such message is wrapped, or marked ``# untranslated: <why>`` (a
    Python protocol's own wording, an internal invariant, a note for whoever edits the
    explorer's scripts), and the marked ones stay few."""
    slipped, marked = _untranslated_messages(ROOT / "src" / "chainrule")
    assert slipped == [], "wrap these in _() (or mark them # untranslated: <why>):\n" + "\n".join(
        slipped)
    assert len(marked) <= 8, marked
    markers = sum(text.count(UNTRANSLATED) for text in (
        p.read_text(encoding="utf-8") for p in (ROOT / "src" / "chainrule").rglob("*.py")))
    assert markers == len(marked), "a # untranslated: marker that marks no message"


def test_the_scan_catches_an_unwrapped_message(tmp_path: Path) -> None:
    """The scan above is not vacuous: each form of an English message is caught, each
    translated or identifier-only form passes, and a marker excuses its line only."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "bad.py").write_text(
        "import warnings\n"
        "def f(x, params):\n"
        "    if x == 1:\n"
        "        raise ValueError('steps must be positive')\n"
        "    if x == 2:\n"
        "        raise errors.ShapeError(f'cat: shapes {x} differ')\n"
        "    if x == 3:\n"
        "        raise KeyError('unknown measure ' + repr(x))\n"
        "    if x == 4:\n"
        "        raise ValueError('{x} is not a number'.format(x=x))\n"
        "    if x == 5:\n"
        "        raise ValueError(_('{x} is {what}').format(x=x, what='too large'))\n"
        "    warnings.warn(f'{x} runs eagerly')\n", encoding="utf-8")
    (package / "good.py").write_text(
        "def g(x, exc, params):\n"
        "    if x == 1:\n"
        "        raise ValueError(_('steps must be positive, got {x}').format(x=x))\n"
        "    if x == 2:\n"
        "        raise click.BadParameter(f'{x}={exc}', param_hint='--at')\n"
        "    if x == 3:\n"
        "        raise click.ClickException(f'--plot: {exc}')\n"
        "    if x == 4:\n"
        "        raise _located(exc, 'parse')\n"
        "    if x == 5:\n"
        "        raise RuntimeError(f\"{params['seed']}: {_('failed')}\".strip())\n"
        "    # untranslated: Python's own wording\n"
        "    raise AttributeError(f'module has no attribute {x!r}')\n", encoding="utf-8")
    slipped, marked = _untranslated_messages(package)
    assert [s.split(":")[:2] for s in slipped] == [
        ["bad.py", "4"], ["bad.py", "6"], ["bad.py", "8"], ["bad.py", "10"], ["bad.py", "12"],
        ["bad.py", "13"]]
    assert [m.split(":")[:2] for m in marked] == [["good.py", "13"]]


# ---------------------------------------------------------------- the PyTorch surface in pt-BR


def _pt_raises(kind: type[BaseException], call: object, *words: str,
               names: tuple[str, ...] = ()) -> str:
    """``call()`` under pt-BR raises ``kind`` with all of ``words`` and no English sentence
    (``names``: parameters and classes the message names, English as the user types them)."""
    with use_language("pt-BR"), pytest.raises(kind) as info:
        call()  # type: ignore[operator]
    message = str(info.value)
    for word in words:
        assert word in message, (word, message)
    prose = re.sub("|".join(rf"\b{re.escape(n)}\b" for n in names), " ", message) if names \
        else message
    assert not english_leaks(prose), (english_leaks(prose), message)
    return message


def test_the_pytorch_surface_explains_in_portuguese() -> None:
    import numpy as np

    import chainrule as cr
    from chainrule.errors import GraphError, OperandError, ShapeError
    from chainrule.optim import OptimizerError

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    _pt_raises(OptimizerError, lambda: cr.optim.SGD([], lr=0.1),
               "o otimizador recebeu uma lista de parâmetros vazia")
    _pt_raises(OptimizerError, lambda: cr.optim.Adam([x], lr=0.1, betas=(0.9, 1.5)),
               "betas precisam estar em [0, 1), recebido (0.9, 1.5)")
    _pt_raises(OptimizerError, lambda: cr.optim.SGD([x], lr=0.1, nesterov=True),
               "nesterov precisa de um momento > 0")
    _pt_raises(OptimizerError, lambda: cr.optim.SGD([{"params": [x], "beta": 1}], lr=0.1),
               "configuração(ões) desconhecida(s) beta para sgd")
    _pt_raises(OptimizerError, lambda: cr.optim.SGD([cr.tensor([1.0])], lr=0.1),
               "o parâmetro 0 não pede gradiente")
    sgd = cr.optim.SGD([x], lr=0.1)
    _pt_raises(OptimizerError, lambda: cr.optim.lr_scheduler.StepLR(sgd, step_size=0),
               "step_size precisa ser ≥ 1, recebido 0")
    _pt_raises(ShapeError, lambda: cr.linspace(0, 1, -1), "linspace: steps precisa ser ≥ 0",
               names=("steps",))
    _pt_raises(ShapeError, lambda: cr.cat([]), "cat: esperado pelo menos um tensor")
    _pt_raises(ShapeError, lambda: cr.cat([cr.zeros(2, 3), cr.zeros(3, 2)]),
               "cat: os formatos (2, 3) e (3, 2) diferem fora da dim 0")
    _pt_raises(ShapeError, lambda: cr.stack([cr.zeros(2), cr.zeros(3)]),
               "todos os tensores precisam ter o mesmo formato")
    _pt_raises(OperandError, lambda: cr.from_numpy([1.0]), "esperado um array NumPy")
    # chainrule.grad misused
    y = (x * x).sum()
    _pt_raises(OperandError, lambda: cr.grad(y, [x], grad_output=1.0, grad_outputs=[1.0]),
               "dê grad_output ou grad_outputs, não os dois")
    _pt_raises(GraphError, lambda: cr.grad(cr.tensor([1.0]).sum(), [x]),
               "a saída não pede gradiente")
    unused = cr.tensor([3.0], requires_grad=True)
    _pt_raises(GraphError, lambda: cr.grad(y, [x, unused], allow_unused=False),
               "a entrada 2 não foi usada no cálculo da saída")
    _pt_raises(OperandError, lambda: cr.gradcheck(lambda a: a.sum(), [np.zeros(2)]),
               "gradcheck: a entrada 0 é um ndarray", names=("Value",))

    class Twice(cr.autograd.Function):
        """f(a, b) = 2a + b, with a backward that forgets b's gradient."""

        @staticmethod
        def forward(ctx: object, a: object, b: object) -> object:
            return 2 * a + b  # type: ignore[operator]

        @staticmethod
        def backward(ctx: object, g: object) -> object:
            return 2 * g  # type: ignore[operator]

    b = cr.tensor([1.0, 1.0], requires_grad=True)
    out = Twice.apply(x, b).sum()
    _pt_raises(GraphError, out.backward,
               "Twice.backward devolveu 1 gradiente(s), mas forward recebeu 2 ou mais argumentos",
               names=("backward",))
    # English stays English in the same process.
    with pytest.raises(OptimizerError, match="^optimizer got an empty parameter list$"):
        cr.optim.SGD([], lr=0.1)
    with pytest.raises(GraphError, match=r"^Twice\.backward returned 1 gradient\(s\), but"):
        Twice.apply(x, b).sum().backward()


def test_pytorch_doctor_advice_in_portuguese() -> None:
    """The fixes the PyTorch doctor spells in torch terms are sentences too."""
    from chainrule.lab.verdict import Change, Suggestion
    from chainrule.torch.doctor import torch_how

    fix = Suggestion((Change("lr", 3.0, 0.3), Change("activation", "sigmoid", "relu"),
                      Change("init", "nielsen", "he"), Change("weight_scale", 4.0, 1.0),
                      Change("preprocess", "raw", "scale"), Change("loss", "quadratic", "bce"),
                      Change("sizes", [784, 30, 30, 30, 10], [784, 30, 10])), "why", "vanishing")
    with use_language("pt-BR"):
        how = torch_how(fix)
    assert how.startswith("defina lr=0.3 no otimizador; use nn.ReLU() como ativação das camadas "
                          "ocultas; nn.init.kaiming_normal_(")
    assert "reinicialize os pesos" in how and "padronize-as (transforms.Normalize)" in how
    assert "sobre os logits" in how and how.endswith("use menos camadas ocultas (3 → 1)")
    prose = re.sub(r"\S*\(\S*\)|nn\.\S+|\S+=\S+", " ", how)  # code stays code
    assert not english_leaks(prose), (english_leaks(prose), how)
    assert torch_how(fix).startswith("set lr=0.3 in the optimizer; use nn.ReLU() for the hidden")


def test_chain_mnemonic_picture_in_portuguese() -> None:
    from chainrule.lab.chain import mnemonic_svg, run_chain

    result = run_chain([0.8, -0.6, 1.3, 0.4], [0.1, -0.3, 0.5, -0.2])
    with use_language("pt-BR"):
        svg = mnemonic_svg(result)
    with use_language("pt-BR"):
        auto = number(result["grad_b_autodiff"][0], ".6g")
    assert "," in auto and auto.replace(",", ".") == f"{result['grad_b_autodiff'][0]:.6g}"
    assert f"= {auto} (retropropagação no grafo)" in svg and "(o produto)" in svg
    assert "backprop" not in svg and "(backprop on the graph)" in mnemonic_svg(result)


def test_web_refusals_in_portuguese() -> None:
    """The explorer's refusals (another origin, not JSON) answer in the request's language."""
    import warnings

    from chainrule.web.server import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    with TestClient(create_app()) as client:
        pt_header = {"Accept-Language": "pt-BR"}
        r = client.post("/api/parse", json={"expression": "x"},
                        headers={**pt_header, "origin": "https://evil.example"})
        assert r.status_code == 403
        message = r.json()["error"]
        assert "requisição de outra origem recusada: a página em https://evil.example" in message
        assert not english_leaks(message), message
        r = client.post("/api/parse", content=b'{"expression": "x"}',
                        headers={**pt_header, "content-type": "text/plain"})
        assert r.status_code == 415
        assert r.json()["error"] == ("requisições POST precisam enviar Content-Type: "
                                     "application/json (recebido text/plain)")
        r = client.post("/api/parse", json={"expression": "x"},
                        headers={"origin": "https://evil.example"})
        assert r.json()["error"].startswith("cross-origin request refused")


def test_exported_lesson_titles_in_portuguese(tmp_path: Path) -> None:
    """An exported lesson names itself (browser tab, heading) in the reader's language."""
    path = tmp_path / "lesson.html"
    for kind, title in (
            ("chain", "a cadeia de fatores: 3 neurônios sigmoid, inicialização nielsen"),
            ("vanishing", "a dissipação do gradiente: 3 camadas ocultas de 10 unidades sigmoid, "
                          "inicialização nielsen")):
        code, out = run("--lang", "pt-BR", "export", kind, "--depth", "3", "--width", "10",
                        "-o", str(path))
        assert code == 0, out
        html = path.read_text(encoding="utf-8")
        assert f"<title>{title} · chainrule</title>" in html, kind
    code, out = run("export", "chain", "--depth", "3", "-o", str(path))
    assert code == 0 and "<title>the chain of factors: 3 sigmoid neurons, nielsen init" in \
        path.read_text(encoding="utf-8")


def test_diagnose_verify_without_fixes_in_portuguese() -> None:
    from types import SimpleNamespace

    from rich.console import Console

    from chainrule.commands.diagnose import _show_replay

    replay = SimpleNamespace(budget=SimpleNamespace(epochs=2), outcomes=[],
                             before=SimpleNamespace(final_accuracy=0.9125))
    console = Console(record=True, width=200)
    with use_language("pt-BR"):
        _show_replay(console, replay)
    text = console.export_text()
    assert "--verify: nenhuma correção a reexecutar (como está: 91,2% de acurácia de teste após " \
           "mais 2 época(s))." in text
    assert not english_leaks(text), text


def test_a_hostile_pickle_is_refused_in_portuguese(tmp_path: Path) -> None:
    """The unpickler's refusal is caught and rewrapped with its text, so that text is
    translated too."""
    import gzip
    import os
    import pickle

    from chainrule.data import DataError, load

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[()]]:
            return (os.getcwd, ())

    path = tmp_path / "evil.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(Evil(), protocol=2)))
    with use_language("pt-BR"), pytest.raises(DataError) as info:
        load(path)
    message = str(info.value).replace(str(path), "")
    assert "recusado carregar" in message and "só arrays NumPy" in message
    assert not english_leaks(message), message
    with use_language("pt-BR"), pytest.raises(DataError, match="falta train-images-idx3-ubyte.gz "
                                              r"\(ou a sua versão descompactada"):
        load(tmp_path)


def test_a_failed_download_is_explained_in_portuguese(tmp_path: Path) -> None:
    from chainrule.data.download import FetchError, fetch

    missing = (tmp_path / "no-such-mirror").as_uri() + "/"
    with use_language("pt-BR"), pytest.raises(FetchError) as info:
        fetch({"a.gz": "0" * 64}, tmp_path / "dest", [missing], timeout=1.0)
    lines = str(info.value).splitlines()
    assert lines[0] == "não foi possível baixar a.gz:" and lines[1].startswith(f"  {missing}a.gz")
    assert lines[2] == ("Se esta máquina está sem rede, baixe os arquivos em outro lugar e "
                        "coloque-os em")
    assert lines[3] == f"  {tmp_path / 'dest'}"
    assert lines[4].startswith("(nomes: a.gz), ou aponte CHAINRULE_DATA para uma pasta")


def test_practice_exercise_and_its_usage_errors_in_portuguese() -> None:
    out = pt("circuit", "--exercise", "7")
    assert "exercício de prática 7" in out
    out = _pt_error("circuit", "x*y", "--exercise", "7")
    assert "dê EXPR, --example ou --exercise, não dois deles" in out
    out = _pt_error("circuit", "--exercise", "7", "--quiz", "--json")
    assert "--quiz faz perguntas no terminal; não tem --json" in out
    out = _pt_error("export", "circuit", "--example", "simple", "--exercise", "3", "-o",
                    "unused.html")
    assert "dê um de EXPR, --example NOME ou --exercise SEMENTE" in out
