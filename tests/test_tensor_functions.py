"""torch's tensor functions (scans, flips, sort, split, pad, triangles, diagonals, einsum and
the products): values and gradients against torch, central differences, the compiled tier,
and torch's refusals as one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import OperandError, ShapeError
from chainrule.nn import functional as F  # noqa: N812 - torch's alias

Fn = Callable[..., Any]
RNG = np.random.default_rng(16)


def _r(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def _pieces(parts: Any) -> Any:
    # Several outputs as one: each piece flattened and weighted by its position, so a gradient
    # sent to the wrong piece shows.
    items = [p.flatten() * float(k + 1) for k, p in enumerate(parts)]
    lib = cr if isinstance(items[0], cr.Tensor) else __import__("torch")
    return lib.cat(items)


def _pad(T: Any) -> Any:
    return T.nn.functional.pad


# name -> (fn(T, *xs), inputs). Inputs include 0-d and empty tensors wherever torch takes them.
CASES: dict[str, tuple[Fn, list[np.ndarray]]] = {
    "cumsum_dim1": (lambda T, x: T.cumsum(x, 1), [_r(3, 4)]),
    "cumsum_neg_dim": (lambda T, x: x.cumsum(dim=-1), [_r(5)]),
    "cumsum_0d": (lambda T, x: T.cumsum(x, 0), [np.array(1.5)]),
    "cumsum_empty": (lambda T, x: T.cumsum(x, 0), [_r(0, 3)]),
    "cumprod_dim0": (lambda T, x: T.cumprod(x, 0), [_r(4, 3)]),
    "cumprod_one_zero": (lambda T, x: T.cumprod(x, 1),
                         [np.array([[1.5, 0.0, -2.0, 0.7], [0.3, 2.0, 0.0, 0.0]])]),
    "cumprod_leading_zero": (lambda T, x: x.cumprod(0), [np.array([0.0, 1.2, -0.8, 2.0])]),
    "cumprod_0d": (lambda T, x: T.cumprod(x, 0), [np.array(-0.4)]),
    "cumprod_empty": (lambda T, x: T.cumprod(x, 1), [_r(2, 0)]),
    "flip_two_dims": (lambda T, x: T.flip(x, (0, 2)), [_r(2, 3, 4)]),
    "flip_method": (lambda T, x: x.flip(-1), [_r(3, 4)]),
    "flip_empty": (lambda T, x: x.flip(0), [_r(0, 2)]),
    "fliplr": (lambda T, x: T.fliplr(x), [_r(3, 4)]),
    "flipud": (lambda T, x: x.flipud(), [_r(3, 4)]),
    "roll_dims": (lambda T, x: T.roll(x, (1, -2), (0, 1)), [_r(3, 4)]),
    "roll_0d": (lambda T, x: x.roll(2), [np.array(0.5)]),
    "roll_flat": (lambda T, x: x.roll(3), [_r(2, 3)]),
    "roll_empty": (lambda T, x: T.roll(x, 1, 0), [_r(0, 2)]),
    "sort_last": (lambda T, x: T.sort(x).values, [_r(3, 5)]),
    "sort_descending_dim0": (lambda T, x: x.sort(dim=0, descending=True)[0], [_r(4, 3)]),
    "sort_0d": (lambda T, x: T.sort(x).values, [np.array(2.0)]),
    "sort_empty": (lambda T, x: T.sort(x).values, [_r(0)]),
    "split_size": (lambda T, x: _pieces(T.split(x, 2)), [_r(5, 3)]),
    "split_sections": (lambda T, x: _pieces(x.split([1, 2], dim=1)), [_r(2, 3)]),
    "chunk": (lambda T, x: _pieces(T.chunk(x, 3, 1)), [_r(2, 7)]),
    "tensor_split_sections": (lambda T, x: _pieces(T.tensor_split(x, 3)), [_r(7, 2)]),
    "tensor_split_indices": (lambda T, x: _pieces(x.tensor_split([1, 4], dim=1)), [_r(2, 6)]),
    "repeat_interleave": (lambda T, x: T.repeat_interleave(x, 2, dim=1), [_r(2, 3)]),
    "repeat_interleave_counts": (lambda T, x: x.repeat_interleave(T.tensor([1, 0, 3]), dim=0),
                                 [_r(3, 2)]),
    "repeat_interleave_flat": (lambda T, x: T.repeat_interleave(x, 2), [_r(2, 2)]),
    "pad_last": (lambda T, x: _pad(T)(x, (1, 2)), [_r(2, 3)]),
    "pad_two_dims_value": (lambda T, x: _pad(T)(x, (1, 0, 2, 1), value=0.5), [_r(2, 3)]),
    "pad_crop": (lambda T, x: _pad(T)(x, (-1, 2, 1, -1)), [_r(3, 4)]),
    "pad_empty": (lambda T, x: _pad(T)(x, (1, 1)), [_r(2, 0)]),
    "tril": (lambda T, x: T.tril(x), [_r(4, 5)]),
    "tril_batched_k": (lambda T, x: x.tril(-1), [_r(2, 3, 3)]),
    "triu_k": (lambda T, x: T.triu(x, 1), [_r(4, 5)]),
    "triu_empty": (lambda T, x: T.triu(x), [_r(0, 3)]),
    "diag_vector": (lambda T, x: T.diag(x, 1), [_r(4)]),
    "diag_matrix": (lambda T, x: x.diag(-1), [_r(4, 5)]),
    "diag_empty": (lambda T, x: T.diag(x), [_r(0)]),
    "diagonal": (lambda T, x: T.diagonal(x, 1, 0, 2), [_r(3, 2, 4)]),
    "diagonal_neg": (lambda T, x: x.diagonal(-1, -1, -2), [_r(2, 4, 3)]),
    "trace": (lambda T, x: T.trace(x), [_r(4, 5)]),
    "outer": (lambda T, a, b: T.outer(a, b), [_r(3), _r(4)]),
    "inner": (lambda T, a, b: T.inner(a, b), [_r(2, 3), _r(4, 3)]),
    "inner_0d": (lambda T, a, b: T.inner(a, b), [np.array(1.5), _r(2, 3)]),
    "dot": (lambda T, a, b: T.dot(a, b), [_r(5), _r(5)]),
    "dot_method": (lambda T, a, b: a.dot(b), [_r(3), _r(3)]),
    "dot_empty": (lambda T, a, b: T.dot(a, b), [_r(0), _r(0)]),
    "tensordot_int": (lambda T, a, b: T.tensordot(a, b, 1), [_r(2, 3), _r(3, 4)]),
    "tensordot_lists": (lambda T, a, b: T.tensordot(a, b, dims=([0, 2], [1, 0])),
                        [_r(2, 3, 4), _r(4, 2, 5)]),
    "kron": (lambda T, a, b: T.kron(a, b), [_r(2, 3), _r(3, 2)]),
    "kron_mixed_ndim": (lambda T, a, b: a.kron(b), [_r(3), _r(2, 2)]),
    "einsum_matmul": (lambda T, a, b: T.einsum("ij,jk->ik", a, b), [_r(2, 3), _r(3, 4)]),
    "einsum_batched": (lambda T, a, b: T.einsum("bij,bjk->bik", a, b), [_r(2, 2, 3), _r(2, 3, 4)]),
    "einsum_list_form": (lambda T, a, b: T.einsum("i,i->", [a, b]), [_r(4), _r(4)]),
    "einsum_diagonal": (lambda T, x: T.einsum("ii->i", x), [_r(3, 3)]),
    "einsum_trace": (lambda T, x: T.einsum("ii", x), [_r(3, 3)]),
    "einsum_sum": (lambda T, x: T.einsum("ij->", x), [_r(3, 4)]),
    "einsum_ellipsis": (lambda T, x: T.einsum("...ij->...ji", x), [_r(2, 3, 4)]),
    "einsum_implicit": (lambda T, a, b: T.einsum("ij,jk", a, b), [_r(2, 3), _r(3, 2)]),
    "einsum_bilinear": (lambda T, a, w, b: T.einsum("bn,anm,bm->ba", a, w, b),
                        [_r(2, 3), _r(4, 3, 5), _r(2, 5)]),
    "einsum_empty": (lambda T, a, b: T.einsum("ij,jk->ik", a, b), [_r(2, 0), _r(0, 3)]),
    "einsum_broadcast": (lambda T, a, b: T.einsum("ij,ij->ij", a, b), [_r(1, 3), _r(2, 3)]),
    "einsum_broadcast_contracted": (lambda T, a, b: T.einsum("ij,jk->ik", a, b),
                                    [_r(2, 1), _r(3, 2)]),
    "chunk_empty": (lambda T, x: _pieces(T.chunk(x, 3) + T.chunk(x, 1)), [_r(0, 2)]),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(CASES))
def test_values_and_gradients_match_torch(name: str, dtype: str) -> None:
    torch = pytest.importorskip("torch")
    fn, inputs = CASES[name]
    xs = [cr.tensor(x.astype(dtype), requires_grad=True) for x in inputs]
    ts = [torch.tensor(x.astype(dtype), requires_grad=True) for x in inputs]
    out, t_out = fn(cr, *xs), fn(torch, *ts)
    assert tuple(out.shape) == tuple(t_out.shape)
    assert out.dtype == np.dtype(dtype)
    tol = 1e-10 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=tol, atol=tol)
    v = np.random.default_rng(3).standard_normal(out.shape).astype(dtype)
    grads = cr.grad(out, xs, grad_output=cr.tensor(v), allow_unused=True)
    t_grads = torch.autograd.grad(t_out, ts, grad_outputs=torch.tensor(v), allow_unused=True)
    for x, g, tg in zip(xs, grads, t_grads, strict=True):
        want = np.zeros(x.shape, dtype) if tg is None else tg.numpy()
        got = np.zeros(x.shape, dtype) if g is None else g.numpy()
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", [n for n, (_f, xs) in CASES.items()
                                  if all(x.size for x in xs)])
def test_gradients_match_central_differences(name: str) -> None:
    fn, inputs = CASES[name]
    xs = [cr.tensor(x, requires_grad=True) for x in inputs]
    assert cr.gradcheck(lambda *t: fn(cr, *t), xs)


@pytest.mark.parametrize("name", ["cumsum_dim1", "cumprod_dim0", "flip_two_dims", "roll_dims",
                                  "sort_last", "pad_crop", "tril_batched_k", "diag_vector",
                                  "diagonal", "trace", "kron", "einsum_batched",
                                  "einsum_trace", "einsum_bilinear", "einsum_broadcast_contracted"])
def test_second_derivatives_match_torch(name: str) -> None:
    """create_graph: each vjp is built from engine ops and differentiates again."""
    torch = pytest.importorskip("torch")
    fn, inputs = CASES[name]
    xs = [cr.tensor(x, requires_grad=True) for x in inputs]
    ts = [torch.tensor(x, requires_grad=True) for x in inputs]
    v = np.random.default_rng(4).standard_normal(fn(cr, *xs).shape)
    w = [np.random.default_rng(5).standard_normal(x.shape) for x in inputs]
    grads = cr.grad((fn(cr, *xs) ** 2 * cr.tensor(v)).sum(), xs, create_graph=True)
    second = cr.grad(sum(((g * cr.tensor(wi)).sum() for g, wi in zip(grads, w, strict=True)),
                         cr.tensor(0.0)), xs)
    t_grads = torch.autograd.grad((fn(torch, *ts) ** 2 * torch.tensor(v)).sum(), ts,
                                  create_graph=True)
    t_second = torch.autograd.grad(sum((g * torch.tensor(wi)).sum()
                                       for g, wi in zip(t_grads, w, strict=True)), ts)
    for a, b in zip(second, t_second, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-9)


def test_cumprod_gradient_with_zeros_is_exact() -> None:
    """d/da of Π aᵢ cumulated, where some aᵢ = 0: no division by zero, the products of the
    others (x = [2, 0, 3]: out = [2, 0, 0]; ∂(Σ out)/∂a = [1, 2 + 6, 0])."""
    x = cr.tensor([2.0, 0.0, 3.0], requires_grad=True)
    x.cumprod(0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 8.0, 0.0])
    y = cr.tensor([0.0, 0.0, 5.0], requires_grad=True)
    y.cumprod(0).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 0.0, 0.0])


def test_sort_returns_torchs_named_pair() -> None:
    x = cr.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]], requires_grad=True)
    values, indices = cr.sort(x, dim=1, descending=True)
    np.testing.assert_array_equal(values.numpy(), [[3.0, 2.0, 1.0], [5.0, 0.0, -1.0]])
    np.testing.assert_array_equal(indices.numpy(), [[0, 2, 1], [1, 0, 2]])
    assert indices.dtype == np.int64 and not indices.requires_grad
    result = x.sort()
    assert result.values is result[0] and result.indices is result[1]
    np.testing.assert_array_equal(x.argsort(dim=0).numpy(), [[1, 0, 1], [0, 1, 0]])
    (values * cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 3.0, 2.0], [5.0, 4.0, 6.0]])


def test_ties_keep_their_order_like_torchs_stable_sort() -> None:
    torch = pytest.importorskip("torch")
    data = np.array([2.0, 1.0, 2.0, 1.0, 3.0, 2.0])
    for descending in (False, True):
        got = cr.tensor(data).sort(descending=descending, stable=True).indices.numpy()
        want = torch.tensor(data).sort(descending=descending, stable=True).indices.numpy()
        np.testing.assert_array_equal(got, want)


def test_integer_inputs_compute_as_torch() -> None:
    torch = pytest.importorskip("torch")
    data = np.array([[3, 1, 2], [4, 0, 5]], dtype=np.int64)
    for fn in (lambda T, x: T.cumsum(x, 1), lambda T, x: T.flip(x, (0,)),
               lambda T, x: T.roll(x, 1, 1), lambda T, x: T.sort(x).values,
               lambda T, x: T.tril(x), lambda T, x: T.trace(x),
               lambda T, x: T.cumsum(x > 2, 0)):
        got, want = fn(cr, cr.tensor(data)), fn(torch, torch.tensor(data))
        assert got.dtype == np.dtype(str(want.dtype).removeprefix("torch."))
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_module_and_method_names() -> None:
    names = ["argsort", "chunk", "cumprod", "cumsum", "diag", "diagonal", "dot", "einsum",
             "flip", "fliplr", "flipud", "inner", "kron", "outer", "pad", "repeat_interleave",
             "roll", "sort", "split", "tensor_split", "tensordot", "trace", "tril", "triu"]
    methods = set(names) - {"einsum", "pad", "tensordot"}
    for name in names:
        assert callable(getattr(cr, name)), name
        assert name in cr.__all__, name
    for name in methods:
        assert callable(getattr(cr.Tensor, name)), name
    assert F.pad is cr.pad


def test_the_compiled_tier_gives_the_eager_gradients() -> None:
    w = cr.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    u = cr.tensor(RNG.standard_normal(6), requires_grad=True)

    def loss(x: cr.Tensor, ww: cr.Tensor, uu: cr.Tensor) -> cr.Tensor:
        h = cr.einsum("bi,ij->bj", x, ww).cumsum(1).flip(0)
        h = F.pad(h, (1, 2)).tril(1)
        s = h.sort(dim=1).values.roll(1, 0)
        return (s * cr.diag(uu).sum(0)).sum() + uu.cumprod(0).sum() \
            + cr.trace(h[:, :3]) * cr.dot(uu, uu.flip(0))

    step = cr.compile(lambda x: loss(x, w, u))
    eager_w = cr.tensor(w.numpy().copy(), requires_grad=True)
    eager_u = cr.tensor(u.numpy().copy(), requires_grad=True)
    for _k in range(3):
        x = RNG.standard_normal((5, 4))
        w.grad = None
        u.grad = None
        eager_w.grad = None
        eager_u.grad = None
        got = step(cr.tensor(x))
        got.backward()
        want = loss(cr.tensor(x), eager_w, eager_u)
        want.backward()
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)
        np.testing.assert_allclose(w.grad.numpy(), eager_w.grad.numpy(), rtol=1e-12, atol=0)
        np.testing.assert_allclose(u.grad.numpy(), eager_u.grad.numpy(), rtol=1e-12, atol=0)


REFUSALS: list[tuple[Fn, type[Exception], str]] = [
    (lambda: cr.cumsum(cr.ones(2, 3), 2), IndexError, "dimension out of range"),
    (lambda: cr.ones(2, 3).flip(-3), IndexError, "dimension out of range"),
    (lambda: cr.ones(2, 3).flip(0, 0), ShapeError, "appears more than once"),
    (lambda: cr.sort(cr.ones(3), dim=1), IndexError, "dimension out of range"),
    (lambda: cr.roll(cr.ones(3), (1, 2), 0), ShapeError, "one shift per dim"),
    (lambda: cr.roll(cr.tensor(1.0), 1, 0), IndexError, "no dimensions"),
    (lambda: cr.cumsum(cr.ones(3)), OperandError, "dim="),
    (lambda: cr.fliplr(cr.ones(3)), ShapeError, "at least 2-d"),
    (lambda: cr.split(cr.ones(5), [2, 2]), ShapeError, "add up to 5"),
    (lambda: cr.chunk(cr.ones(5), 0), ShapeError, "positive"),
    (lambda: F.pad(cr.ones(2, 3), (1, 2, 3)), ShapeError, "even"),
    (lambda: F.pad(cr.ones(2, 3), (1, 1), mode="reflect"), OperandError, "constant"),
    (lambda: F.pad(cr.ones(2, 3), (-2, -2)), ShapeError, "leaves nothing"),
    (lambda: cr.tril(cr.ones(3)), ShapeError, "at least 2-d"),
    (lambda: cr.diag(cr.ones(2, 2, 2)), ShapeError, "1-d or 2-d"),
    (lambda: cr.diagonal(cr.ones(2, 2), 0, 1, -1), ShapeError, "same dimension"),
    (lambda: cr.trace(cr.ones(3)), ShapeError, "matrix"),
    (lambda: cr.dot(cr.ones(2, 2), cr.ones(2)), ShapeError, "1-d tensors expected"),
    (lambda: cr.dot(cr.ones(2), cr.ones(3)), ShapeError, "same length"),
    (lambda: cr.outer(cr.ones(2, 2), cr.ones(2)), ShapeError, "1-d tensors expected"),
    (lambda: cr.inner(cr.ones(2, 3), cr.ones(2)), ShapeError, "last dimensions differ"),
    (lambda: cr.tensordot(cr.ones(2, 3), cr.ones(2, 3), 1), ShapeError, "has size 3"),
    (lambda: cr.einsum("ij,jk->ik", cr.ones(2, 3), cr.ones(4, 2)), ShapeError,
     "subscript j has size 4"),
    (lambda: cr.einsum("ij->ik", cr.ones(2, 3)), ShapeError, "appears in no operand"),
    (lambda: cr.einsum("ijk", cr.ones(2, 3)), ShapeError, "3 dimensions"),
    (lambda: cr.einsum("ij,jk", cr.ones(2, 3)), ShapeError, "2 operands"),
    (lambda: cr.einsum("i1", cr.ones(2, 3)), ShapeError, "letters"),
    (lambda: cr.einsum("i,i", cr.ones(2), cr.ones(2, dtype=cr.float32)), OperandError,
     "dtypes"),
    (lambda: cr.repeat_interleave(cr.ones(3), cr.tensor([1, 2])), ShapeError, "one per element"),
]


@pytest.mark.parametrize(("call", "kind", "words"), REFUSALS)
def test_misuse_gets_a_one_line_error(call: Fn, kind: type[Exception], words: str) -> None:
    with pytest.raises(kind, match=words) as info:
        call()
    assert "\n" not in str(info.value)


def test_dimension_errors_are_torchs_index_errors() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(IndexError) as theirs:
        torch.cumsum(torch.ones(2, 3), 2)
    with pytest.raises(IndexError) as ours:
        cr.cumsum(cr.ones(2, 3), 2)
    # torch: "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
    assert str(theirs.value).lower().split("(")[1] == str(ours.value).lower().split("(")[1]
