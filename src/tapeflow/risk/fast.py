"""The fast path of a submit: every rule's own fast check, composed in rule order into one function.

Why: the pipeline sits on the tick-to-trade path and most orders pass, so they run every rule. As 23 rule objects,
each a method call reaching through the context for the same few numbers, that cost about 30 us an order here.
Even a closure per rule costs a call each (0.03-0.15 us on this machine), about 0.5 us on a 3.5 us pass. Each
rule therefore says how to check it fast (``Rule.fast_check``: a few statements, the names they read, what a pass
spends), and this module joins those parts into the body of one function, computing each value several rules
share (the book, the reference price, the projected position, the account) once, just before the first part that
reads it. A rule's logic and limits stay in its class; this module knows no rule.

The function decides one thing only: "this submit certainly passes every rule it holds". On any failure, and on
anything a part does not handle cheaply (no price to value the order, a new day, a halted symbol), it returns 0
*before changing any state* and the engine runs the ordered rule-by-rule pipeline, which names the first failing
rule, its stage, limit, value and reason. So a refusal is never decided here and the documented order of the checks
stays the only source of rejections; what must hold is soundness (a fast pass implies every rule's ``check``
passes), which ``tests/risk/test_fused.py`` checks by running the same random command streams through an engine
with and without this path.

The function is rebuilt when the engine is built and after every accepted ``UpdateRiskLimit``
(``RiskEngine.recompile``), never per order. Limits and state are bound as the function's own globals (one dict per
build), never formatted into the text: the text depends only on which rules are on, and its compiled form is memoised by
text. Rules without a fast check (hand-made ones, subclasses of a built-in from elsewhere that do not give one)
are called after it, in their order.

A modify is composed the same way into a second function (``compile_modify_check``), checked as the order it would
leave working: each rule's ``fast_check_modify`` (its submit part unless the rule treats a modify differently) over
``SHARED_MODIFY``, where the order's own open shares and notional are left out, as the rules do while
``ctx.modifying``.

Why this module is long: the shared values, their two variants (submit, modify) and the composer that orders them
must be read together to see that a part only ever reads what was computed before it.
"""

from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import linecache
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from types import CodeType
from typing import Any, NamedTuple, Protocol

from tapeflow.book.view import BookBase
from tapeflow.model.enums import OrderType, Side
from tapeflow.model.orders import ModifyOrder, SubmitOrder
from tapeflow.risk.context import NS, RiskContext
from tapeflow.risk.fast_group import ARGS, MIN_GROUP, ORDER, ORDER_ARGS, account_group, groupable, order_group
from tapeflow.risk.rules import FastCheck

BIG = 1 << 100
"""Stands for "no limit": no exact integer value of an order reaches it."""

FusedCheck = Callable[[SubmitOrder, int], int]
"""``check(order, now) -> reference price`` (> 0) when the order passes every fused rule, 0 when it may not."""
ModifyCheck = Callable[[SubmitOrder, int, ModifyOrder], int]
"""``check(proposed, now, modify)``: the same for the order a modify would leave working (``compile_modify_check``)."""

SHARED: tuple[tuple[str, ...], ...] = (
    ("symbol = o.symbol",),
    ("q = o.quantity",),
    ("price = o.price",),
    ("stop_price = o.stop_price",),
    ("otype = o.order_type",),
    ("is_buy = o.side is BUY",),
    ("strategy = o.strategy_id",),
    ("marketable = otype is MARKET or otype is STOP",),
    ("limits = table_get(symbol, default_limits)",),
    (
        "book = books_book(symbol) if books_book is not None else None",
        "if book is None:",
        "    bid = ask = 0",
        "else:",
        "    bid, ask = book.best_bid, book.best_ask",
    ),
    ("health = book.integrity if isinstance(book, BookBase) else book",),
    # the portfolio's doubled mark where no book is kept (bars): read once for the collar and the reference price
    ("mark = portfolio.mark_x2(symbol) if book is None and portfolio is not None else None",),
    (
        "ref = price",
        "if not ref and otype is STOP:",
        "    ref = stop_price",
        "if not ref:",
        "    ref = ask if is_buy else bid",
        "    if not ref:",
        # no book price (bars): the portfolio's mark rounded up, as ``RiskContext.ref_price``; no mark, the rules
        # decide. Returning 0 here sent every market order of a bar backtest rule by rule (issue 19)
        "        _mark = mark if book is None else portfolio.mark_x2(symbol) if portfolio is not None else None",
        "        if _mark is None or _mark <= 0:",
        "            return 0",
        "        ref = -(-_mark // 2)",
    ),
    ("value = ref * q",),
    (
        "held = quantity_of(symbol)",
        "_same = (buys_get if is_buy else sells_get)(symbol)",
        "_open = _same.shares if _same is not None else 0",
        "projected = held + _open + q if is_buy else held - _open - q",
        "size = projected if projected >= 0 else -projected",
        "reducing = (held > 0 and not is_buy and projected >= 0) or (held < 0 and is_buy and projected <= 0)",
    ),
    (
        "gross = ctx.cached_gross",
        "if gross < 0 or ctx_moved:",
        "    gross = ctx_gross()",
        "projected_gross = gross + ledger.buy_notional + ledger.sell_notional + value",
    ),
    ("net = ctx.cached_net", "if net is None or ctx_moved:", "    net = ctx_net()"),
    ("equity = net + (portfolio.cash if portfolio is not None else 0)",),
)
"""What the parts may read besides their own names, each computed (with what it reads) before the first part that reads
it: the order's fields; the order's ``book``, its best ``bid`` and ``ask``, and ``health`` (what has its ``stale``
and ``crossed`` flags: an L2/L3 book's integrity, or the L1 book itself); ``ref`` and ``value`` as
``RiskContext.ref_price`` gives them from the order, the book or the portfolio's doubled ``mark`` (read only where
no book is kept); ``held``, ``projected`` (with
this and every open order on its side filled), ``size`` and ``reducing`` as ``RiskContext.projected_position`` and
``reducing``; the account's ``gross``, ``projected_gross``, ``net``, ``equity``. Names starting with ``_`` are
private to the block. The per-symbol ``limits`` row is read only by parts that use ``LIMIT`` with overrides."""

_OWN = (
    "_entry = ledger_entry(o.client_order_id)",
    "own_notional = _entry[3] * _entry[4] if _entry is not None else 0",
    "own_buy = own_notional if _entry is not None and _entry[2] is BUY else 0",
    "own_sell = own_notional - own_buy",
    "own_leaves = _entry[3] if _entry is not None and _entry[2] is o.side else 0",
)


def _modifying(shared: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    """The shared blocks for a ``ModifyOrder`` (checked as the order it would become): the order's own open
    leaves and notional, from its ledger entry, left out of what is open, as ``RiskContext.projected_position``,
    ``open_notional`` and ``account_rules.projected_gross`` do while ``ctx.modifying``."""
    out: list[tuple[str, ...]] = [_OWN]
    replaced = 0
    for block in shared:
        lines = []
        for line in block:
            if line == "_open = _same.shares if _same is not None else 0":
                line = "_open = (_same.shares if _same is not None else 0) - own_leaves"
                replaced += 1
            elif line == "projected_gross = gross + ledger.buy_notional + ledger.sell_notional + value":
                line = "projected_gross = gross + ledger.buy_notional + ledger.sell_notional - own_notional + value"
                replaced += 1
            lines.append(line)
        out.append(tuple(lines))
    if replaced != 2:  # a shared line edited without this function would leave the order's own shares counted
        raise AssertionError(f"the modify variant replaced {replaced} of 2 shared lines: update _modifying")
    return tuple(out)


SHARED_MODIFY = _modifying(SHARED)
"""``SHARED`` for a modify: the same names, and the order's own ``own_notional`` (split into ``own_buy`` and
``own_sell`` by its side) and ``own_leaves``."""

_ENV = (
    "BIG",
    "BookBase",
    "NS",
    "BUY",
    "MARKET",
    "STOP",
    "books_book",
    "quantity_of",
    "portfolio",
    "ctx",
    "ctx_gross",
    "ctx_net",
    "ctx_moved",
    "ledger",
    "ledger_add",
    "ledger_entry",
    "buys_get",
    "sells_get",
    "engine",
    "execute",
    "kill",
    "observe_pass",
)
"""The names every part may read besides the shared values and its own (``compile_check`` binds them)."""
_GIVEN = {"o", "now", "LIMIT", "limits", *_ENV, *dir(builtins)}
_RISK_MODULES = (
    "tapeflow.risk.order_rules",
    "tapeflow.risk.book_rules",
    "tapeflow.risk.flow_rules",
    "tapeflow.risk.account_rules",
)


class Engine(Protocol):
    """What the fast path needs of ``RiskEngine`` to finish a pass."""

    passed: int

    def kill(self, reason: str, *, source: str = "manual", rule: str = "") -> bool: ...

    def observe_pass(self, order: SubmitOrder, ctx: RiskContext) -> None: ...


def _stores(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}


def _loads(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


ACCOUNT = frozenset({"gross", "projected_gross", "net", "equity"})
"""The account's values: every account rule reads them only for an order that is not ``reducing`` (a reducing
order passes every account limit). Valuing the positions is the costliest shared work (a bar backtest revalues
after every bar, and half its orders close a position: issue 19), so when every part reads them only under
``if not reducing`` (``_unguarded``), their blocks are computed under that guard too, never for a reducing order."""


class _Shared(NamedTuple):
    """One set of shared blocks, indexed: which block provides each name, what each block reads, and which
    blocks give only ``ACCOUNT`` values (computed only for an order that is not reducing, when no part reads
    them for one that is)."""

    blocks: tuple[tuple[str, ...], ...]
    provider: dict[str, int]
    loads: list[set[str]]
    account: frozenset[int]


def _index(blocks: tuple[tuple[str, ...], ...]) -> _Shared:
    trees = [ast.parse("\n".join(lines)) for lines in blocks]
    defined = [{n for n in _stores(tree) if not n.startswith("_")} for tree in trees]
    account = frozenset(i for i, names in enumerate(defined) if names and names <= ACCOUNT)
    if set().union(*(defined[i] for i in account)) != ACCOUNT:  # a block giving account values and others
        raise AssertionError("every ACCOUNT value must come from a block that gives account values only")
    provider = {name: i for i, names in enumerate(defined) for name in names}
    return _Shared(blocks, provider, [_loads(t) for t in trees], account)


def _is_not_reducing(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.UnaryOp)
        and isinstance(test.op, ast.Not)
        and isinstance(test.operand, ast.Name)
        and test.operand.id == "reducing"
    )


class _Unguarded(ast.NodeVisitor):
    """The ``ACCOUNT`` names a part reads outside ``if not reducing`` (or ``if not reducing and ...``)."""

    def __init__(self) -> None:
        self.found: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in ACCOUNT:
            self.found.add(node.id)

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        guard = _is_not_reducing(test) or (
            isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) and _is_not_reducing(test.values[0])
        )
        if not guard:
            self.generic_visit(node)
            return
        # the rest of the test (``and`` stops at the first false) and the body run only for an order that is not
        # reducing; the ``else`` runs for one that is
        for stmt in node.orelse:
            self.visit(stmt)


def _unguarded(code: str) -> set[str]:
    """The account values ``code`` may read for a reducing order (then they are computed for every order)."""
    visitor = _Unguarded()
    visitor.visit(ast.parse(code))
    return visitor.found


_SUBMIT, _MODIFY = _index(SHARED), _index(SHARED_MODIFY)
_PROVIDER = {**_SUBMIT.provider, **_MODIFY.provider}
"""Every shared name of either kind of command (the modify's own-order names are read by modify parts only)."""


def fast_part(rule: Any, modifying: bool = False) -> FastCheck | None:
    """A rule's fast check (for a modify: ``fast_check_modify``), when it may be trusted: a built-in's, or one its
    own class declares.

    A subclass of a built-in from elsewhere may check something else than its base; without a fast check of its
    own it is called like any hand-made rule.
    """
    kind = type(rule)
    method = "fast_check_modify" if modifying else "fast_check"
    if kind.__module__ not in _RISK_MODULES and method not in vars(kind):
        return None
    part: FastCheck | None = getattr(rule, method)()
    return part


class _Rename(ast.NodeTransformer):
    """One part's own names apart from every other part's; ``LIMIT`` to its column of the per-symbol table."""

    def __init__(self, own: Set[str], suffix: str, limit: ast.expr) -> None:
        self.own, self.suffix, self.limit = own, suffix, limit

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id == "LIMIT":
            return self.limit
        if node.id in self.own:
            return ast.copy_location(ast.Name(id=node.id + self.suffix, ctx=node.ctx), node)
        return node


@functools.lru_cache(maxsize=1_024)
def _render(part: str, spend: str, names: frozenset[str], suffix: str, column: int) -> tuple[str, str, frozenset[str]]:
    """A part's check and spend with its own names renamed apart (``LIMIT`` to column ``column`` of the
    per-symbol table, or to a name of its own when -1), and the shared names they read. A memo: parsing is the
    whole cost of rebuilding the fast check after a limit change."""
    code, after = ast.parse(part), ast.parse(spend)
    own = (names | _stores(code) | _stores(after)) - {"LIMIT"}
    clash = own & set(_PROVIDER)
    if clash:
        raise ValueError(f"fast check{suffix} binds shared names {sorted(clash)}")
    unknown = _loads(code) - own - set(_PROVIDER) - _GIVEN
    if unknown:
        raise ValueError(f"fast check{suffix} reads names nobody binds: {sorted(unknown)}")
    limit: ast.expr = ast.Name(id=f"LIMIT{suffix}", ctx=ast.Load())
    if column >= 0:
        limit = ast.Subscript(ast.Name("limits", ast.Load()), ast.Constant(column), ast.Load())
    rename = _Rename(own, suffix, limit)
    code, after = rename.visit(code), rename.visit(after)
    return ast.unparse(code), ast.unparse(after), frozenset((_loads(code) | _loads(after)) & set(_PROVIDER))


class _Composer:
    """The body of the fast check as it grows: each part after the shared blocks it reads."""

    def __init__(self, env: dict[str, object], shared: _Shared, guarded: bool) -> None:
        self.env = env
        self.shared = shared
        self.guarded = guarded
        """True when no part reads an ``ACCOUNT`` value for a reducing order: their blocks go under the guard."""
        self.lines: list[str] = []
        self.emitted: set[int] = set()
        self.columns: list[Any] = []

    def need(self, names: Iterable[str]) -> None:
        shared = self.shared
        provider = shared.provider
        for i in sorted({provider[n] for n in names if n in provider}):
            if i not in self.emitted:
                self.emitted.add(i)
                if self.guarded and i in shared.account:
                    # what the block reads is computed before the guard (``reducing`` too), unguarded
                    self.need(shared.loads[i] | {"reducing"})
                    self.lines.append("if not reducing:")
                    self.lines.extend(f"    {line}" for line in shared.blocks[i])
                else:
                    self.need(shared.loads[i])
                    self.lines.extend(shared.blocks[i])

    def after_execution(self) -> None:
        """What the trip parts read of the account is computed again, for every order: execution may have moved
        it (a venue that fills in the call), and the trip rules see the account after the order, as ``LossTrip.observe``
        does through ``ctx.daily_loss()``. The same blocks as the check's, so the values ``ctx.equity()`` would give,
        without its two calls (issue 19, round 11)."""
        self.emitted -= self.shared.account
        self.guarded = False

    def add(self, part: FastCheck, tag: str, rule: Any = None) -> str:
        """Emit ``part``'s check; the text of its spend (renamed alike) is returned for later."""
        code, spend, shared, _ = self._bind(part, tag, rule)
        self.need(shared)
        self.lines.extend(code.splitlines())
        return spend

    def _bind(self, part: FastCheck, tag: str, rule: Any) -> tuple[str, str, frozenset[str], int]:
        """``part`` rendered, its names and limit bound: its check, its spend, the shared names they read, and its
        column of the per-symbol limits row (-1: none)."""
        suffix = f"_{tag}"
        column = -1
        if "LIMIT" in part.code:
            if rule.per_symbol:
                column = len(self.columns)
                self.columns.append(rule)
            else:
                self.env[f"LIMIT{suffix}"] = BIG if rule.limit is None else rule.limit
        code, spend, shared = _render(part.code, part.spend, frozenset(part.names), suffix, column)
        for name, value in part.names.items():
            self.env[name + suffix] = value
        return code, spend, shared, column

    def add_group(self, run: Sequence[tuple[FastCheck, str, Any]], family: str) -> None:
        """Emit a run of account or order parts (``fast_group.groupable``: none spends) as one compiled call, their
        text after it for the call's ``UNSURE`` (-1); a run the compiled group cannot hold, as parts one by one.
        An account run is called only for an order that is not reducing (every account part passes one that is)."""
        bound = [self._bind(part, tag, rule) for part, tag, rule in run]
        tag = run[0][1]
        members = [(rule, part, column) for (part, _, rule), (_, _, _, column) in zip(run, bound, strict=True)]
        account = family != ORDER
        group = (account_group if account else order_group)(self.env["ledger"], members)
        reads = frozenset().union(*(shared for _, _, shared, _ in bound))
        if group is None:
            self.need(reads)
            self.lines.extend(line for code, _, _, _ in bound for line in code.splitlines())
            return
        self.env[f"group_{tag}"] = group.check
        names = ARGS if account else ORDER_ARGS
        args = ", ".join(
            name if name in reads or name == "now" else "()" if name == "limits" else "0" for name in names
        )
        self.need(reads | {"reducing"} if account else reads)
        call = [f"_g_{tag} = group_{tag}({args})", f"if _g_{tag} <= 0:", f"    if not _g_{tag}:", "        return 0"]
        indent = "        " if account else "    "
        self.lines.extend(["if not reducing:", *(f"    {line}" for line in call)] if account else call)
        self.lines.extend(f"{indent}{line}" for code, _, _, _ in bound for line in code.splitlines())

    def table(self) -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
        """One row of per-symbol limits for each symbol any rule overrides, and the row of defaults."""

        def row(symbol: str | None) -> tuple[int, ...]:
            values = (r.limit if symbol is None else r.limit_for(symbol, r.limit) for r in self.columns)
            return tuple(BIG if v is None else v for v in values)

        symbols = sorted({s for r in self.columns for s in r.per_symbol})
        return {s: row(s) for s in symbols}, row(None)


def compile_check(
    rules: Sequence[Any],
    trips: Sequence[Any],
    ctx: RiskContext,
    engine: Engine,
    execute: Callable[[SubmitOrder], None],
) -> tuple[FusedCheck, list[Any]]:
    """The fast check for the rules in ``rules`` that have one, and the rules it leaves to the caller, in order.

    With no other rule left (``rest`` empty) a pass is finished here as ``RiskEngine.on_command`` would: the rules'
    spends (token buckets, the duplicate window), the open-order ledger, execution, the trip rules. Otherwise a
    later rule may still refuse, so the check only returns the reference price and the engine finishes rule by rule.
    """
    check, rest = _compile(rules, trips, ctx, engine, execute, modifying=False)
    return check, rest


def compile_modify_check(
    rules: Sequence[Any],
    trips: Sequence[Any],
    ctx: RiskContext,
    engine: Engine,
    execute: Callable[[ModifyOrder], None],
) -> tuple[ModifyCheck, list[Any]]:
    """The same for a ``ModifyOrder``: ``check(order, now, command)`` decides on ``order``, the ``SubmitOrder`` the
    modify would leave working (``proposed_order``), from each rule's ``fast_check_modify`` and the shared values
    of a modify (``SHARED_MODIFY``); a pass sends ``command`` on. Before, every modify went rule by rule."""
    check, rest = _compile(rules, trips, ctx, engine, execute, modifying=True)
    return check, rest


def _compile(
    rules: Sequence[Any],
    trips: Sequence[Any],
    ctx: RiskContext,
    engine: Engine,
    execute: Callable[[Any], None],
    *,
    modifying: bool,
) -> tuple[Any, list[Any]]:
    portfolio = ctx.portfolio
    ledger = ctx.ledger
    env: dict[str, object] = {
        "BIG": BIG,
        "BookBase": BookBase,
        "NS": NS,
        "BUY": Side.BUY,
        "MARKET": OrderType.MARKET,
        "STOP": OrderType.STOP,
        "books_book": ctx.books.book if ctx.books is not None else None,
        "quantity_of": portfolio.quantity if portfolio is not None else _flat,
        "portfolio": portfolio,
        "ctx": ctx,
        "ctx_gross": ctx.gross,
        "ctx_net": ctx.net,
        "ctx_moved": ctx.moved,
        "ledger": ledger,
        "ledger_add": ledger.add,
        "ledger_entry": ledger.entry,
        "buys_get": ledger.buys.get,
        "sells_get": ledger.sells.get,
        "engine": engine,
        "execute": execute,
        "kill": engine.kill,
        "observe_pass": engine.observe_pass,
    }
    assert set(env) == set(_ENV)  # what ``_render`` lets the parts read
    rest: list[Any] = []
    parts: list[tuple[FastCheck, str, Any]] = []
    for i, rule in enumerate(rules):
        part = fast_part(rule, modifying)
        if part is None:
            rest.append(rule)
        elif part.code or part.spend:
            parts.append((part, f"r{i}", rule))
    observes = [getattr(t, "fast_observe", None) for t in trips]
    trip_parts = [observe() for observe in observes if observe is not None] if not rest else []
    # the trip parts read the account afresh after execution (``_Composer.after_execution``): not guarded
    texts = [text for part, _, _ in parts for text in (part.code, part.spend)]
    guarded = not any(_unguarded(text) for text in texts if text)
    body = _Composer(env, _MODIFY if modifying else _SUBMIT, guarded)
    spends: list[str] = []
    for family, run in _runs(parts):
        if family is not None and len(run) >= MIN_GROUP:
            body.add_group(run, family)
        else:
            spends.extend(body.add(*part) for part in run)
    body.need({"ref", "symbol", "q", "strategy"})
    if rest:
        body.lines.append("return ref")
    else:
        for spend in spends:
            body.lines.extend(spend.splitlines())
        body.lines.extend(
            [
                "engine.passed += 1",
                "ctx.now = now",
                "ledger_add(strategy, o.client_order_id, symbol, o.side, q, ref)",
                "execute(cmd)" if modifying else "execute(o)",
            ]
        )
        if all(observe is not None for observe in observes):
            body.after_execution()
            for j, trip_part in enumerate(trip_parts):
                body.add(trip_part, f"t{j}")
        else:
            body.lines.extend([f"ctx.begin(now, {modifying})", "observe_pass(o, ctx)"])
        body.lines.append("return ref")
    table, defaults = body.table()
    env["table_get"], env["default_limits"] = table.get, defaults
    return _build(body.lines, env, "o, now, cmd" if modifying else "o, now"), rest


def _runs(parts: list[tuple[FastCheck, str, Any]]) -> list[tuple[str | None, list[tuple[FastCheck, str, Any]]]]:
    """``parts`` in order, each maximal run of parts one kind of compiled group may check together
    (``fast_group.groupable``) as one list with that kind, every other part alone with None (a run shorter than
    ``fast_group.MIN_GROUP`` is then composed part by part)."""
    runs: list[tuple[str | None, list[tuple[FastCheck, str, Any]]]] = []
    previous: str | None = None
    for part, tag, rule in parts:
        family = groupable(rule, part)
        if family is not None and family == previous:
            runs[-1][1].append((part, tag, rule))
        else:
            runs.append((family, [(part, tag, rule)]))
        previous = family
    return runs


def _flat(symbol: str) -> int:
    return 0


def _build(lines: list[str], env: Mapping[str, object], params: str) -> Any:
    """The function, its bound names (limits, rules' state, accessors) as its globals, one fresh dict per build.

    Globals, not the cells of an enclosing function: a call copies every free variable into its frame and releases
    it on return, ~80 of them here (``_PyFrame_Clear`` 2.0k to 1.3k instructions a pass; issue 19, round 7); a
    global read is as cheap as a cell read once specialised, and costs nothing per call."""
    inner = "".join(f"    {line}\n" for line in lines if line)
    namespace: dict[str, Any] = dict(env)
    exec(_code(f"def check({params}):\n{inner}"), namespace)  # our own parts, no value in the text (see above)
    return namespace["check"]


@functools.lru_cache(maxsize=64)
def _code(source: str) -> CodeType:
    """Compiled once per shape of pipeline (a memo: the same text gives the same code); the text is kept for
    tracebacks and ``inspect``."""
    filename = f"<risk fast check {hashlib.sha256(source.encode()).hexdigest()[:12]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    return compile(source, filename, "exec")
