"""Safe, vectorised three-valued evaluation of readable rule expressions over canonical columns.

Expressions use Python syntax restricted to comparisons, ``and``/``or``/``not``, arithmetic,
constants, column names and ``col.notna()``/``col.isna()``. A comparison whose inputs are missing
is *unknown*, never silently false; ``and``/``or`` follow Kleene logic.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cohortflow.core.errors import CohortflowError

MISSING_CODES = frozenset({"unknown"})
_CMP = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ARITH = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


@dataclass
class Tri:
    """Element-wise value and whether it is known."""

    value: pd.Series
    known: pd.Series


def names(expr: str) -> list[str]:
    """Column names an expression reads, in order of first use."""
    out: list[str] = []
    for node in ast.walk(ast.parse(expr, mode="eval")):
        if isinstance(node, ast.Name) and node.id not in out and node.id not in ("True", "False"):
            out.append(node.id)
    return out


def _column(df: pd.DataFrame, name: str) -> Tri:
    if name not in df.columns:
        raise CohortflowError(f"expression uses unknown variable {name!r}")
    s = df[name]
    known = s.notna()
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        known &= ~s.astype("string").isin(MISSING_CODES).fillna(False)
    return Tri(s, known.astype(bool))


def _eval(node: ast.AST, df: pd.DataFrame) -> Tri:
    idx = df.index
    if isinstance(node, ast.Expression):
        return _eval(node.body, df)
    if isinstance(node, ast.Constant):
        return Tri(
            pd.Series([node.value] * len(idx), index=idx, dtype=object), pd.Series(True, index=idx)
        )
    if isinstance(node, ast.Name):
        return _column(df, node.id)
    if isinstance(node, ast.BoolOp):
        parts = [_as_bool(_eval(v, df)) for v in node.values]
        if isinstance(node.op, ast.And):
            false_known = np.logical_or.reduce([(~p.value) & p.known for p in parts])
            all_true = np.logical_and.reduce([p.value & p.known for p in parts])
            return Tri(pd.Series(all_true, index=idx), pd.Series(false_known | all_true, index=idx))
        true_known = np.logical_or.reduce([p.value & p.known for p in parts])
        all_false = np.logical_and.reduce([(~p.value) & p.known for p in parts])
        return Tri(pd.Series(true_known, index=idx), pd.Series(true_known | all_false, index=idx))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        p = _as_bool(_eval(node.operand, df))
        return Tri(~p.value & p.known, p.known)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        p = _eval(node.operand, df)
        return Tri(-pd.to_numeric(p.value), p.known)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        a, b = _eval(node.left, df), _eval(node.right, df)
        known = a.known & b.known
        val = _ARITH[type(node.op)](a.value.where(known), b.value.where(known))
        return Tri(val, known)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, df)
        value = pd.Series(True, index=idx)
        known = pd.Series(True, index=idx)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _CMP:
                raise CohortflowError(f"operator {type(op).__name__} not allowed")
            right = _eval(comp, df)
            k = left.known & right.known
            with np.errstate(invalid="ignore"):
                res = _CMP[type(op)](left.value.where(k), right.value.where(k))
            value &= pd.Series(res, index=idx).fillna(False).astype(bool) & k
            known &= k
            left = right
        return Tri(value & known, known)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("notna", "isna")
        and not node.args
        and isinstance(node.func.value, ast.Name)
    ):
        col = _column(df, node.func.value.id)
        val = col.known if node.func.attr == "notna" else ~col.known
        return Tri(val, pd.Series(True, index=idx))
    raise CohortflowError(f"expression element not allowed: {ast.dump(node)[:60]}")


def _as_bool(t: Tri) -> Tri:
    v = t.value
    if v.dtype != bool:
        v = v.where(t.known, False).astype(bool)
    return Tri(v.astype(bool), t.known.astype(bool))


def evaluate(expr: str, df: pd.DataFrame) -> Tri:
    """Evaluate a boolean expression row-wise: value (False where unknown) and known mask."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise CohortflowError(f"cannot parse expression {expr!r}: {exc.msg}") from None
    return _as_bool(_eval(tree, df))
