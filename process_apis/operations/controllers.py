"""``/process/v1/ops``: dead letters and their replay, pending work per consumer group
(scope ``qgate.ops``)."""

from __future__ import annotations

import re
from typing import Annotated, Final

from litestar import get, post
from litestar.params import ParameterKwarg

from process_apis._api import Bus
from process_apis.operations.models import (
    DEAD_LETTER_ID_PATTERN,
    ConsumerGroups,
    DeadLetterPage,
    DeadLetterView,
    EventStream,
    GroupView,
    Replay,
    StreamView,
)
from process_apis.operations.summary import summary_handlers
from shared.auth import OPERATIONS_SCOPE
from shared.errors import InvalidCursor
from shared.params import DEFAULT_PAGE_SIZE, Cursor, Limit, enum_query
from shared.routes import IDEMPOTENT, PAGED, READ, WRITE, IdempotencyKey, problems, requires

__all__ = ["DEAD_LETTERS_TAG", "GROUPS_TAG", "handlers"]

DEAD_LETTERS_TAG: Final = "Dead letters"
GROUPS_TAG: Final = "Consumer groups"

StreamQuery = Annotated[
    str,
    enum_query("stream", EventStream, "The event stream (`quality` or `containment`)."),
]
DeadLetterPath = Annotated[
    str,
    ParameterKwarg(
        description="The dead letter's id (from the list).",
        pattern=DEAD_LETTER_ID_PATTERN,
        min_length=3,
        max_length=41,
    ),
]


@get(
    "/dead-letters",
    operation_id="listDeadLetters",
    summary="List a stream's dead letters, oldest first",
    description=(
        "Events a consumer group gave up on after `QGATE_EVENTS_MAX_DELIVERIES` deliveries "
        "(its handler failed each time, or its consumer stopped while handling it), and "
        "entries that are no valid CloudEvent: with the group, the last error and the "
        "delivery count. Fix the cause, then replay them."
    ),
    tags=[DEAD_LETTERS_TAG],
    security=requires(OPERATIONS_SCOPE),
    responses=problems(READ, PAGED),
)
async def list_dead_letters(
    bus: Bus, stream: StreamQuery, cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE
) -> DeadLetterPage:
    if cursor is not None and not re.match(DEAD_LETTER_ID_PATTERN, cursor):
        raise InvalidCursor("The cursor is not one this list issued.")
    found = await bus.dead_letters(stream, after=cursor, limit=limit + 1)
    page = found[:limit]
    return DeadLetterPage(
        items=[DeadLetterView.of(letter) for letter in page],
        next_cursor=page[-1].id if len(found) > limit else None,
    )


@post(
    "/dead-letters/{dead_letter_id:str}/replay",
    operation_id="replayDeadLetter",
    summary="Deliver one dead letter again, to the group that failed it (idempotent)",
    description=(
        "Puts the event back on its stream for the consumer group it failed in only, and "
        "removes the dead letter, in one atomic step: it is processed once (other groups, and "
        "a group that already processed the event id, do not process it again). 202: the "
        "group's consumers process it asynchronously; should it fail again, it comes back "
        "here after as many deliveries."
    ),
    tags=[DEAD_LETTERS_TAG],
    security=requires(OPERATIONS_SCOPE),
    responses=problems(WRITE, 404),
    status_code=202,
    opt=IDEMPOTENT,
)
async def replay_dead_letter(
    bus: Bus,
    dead_letter_id: DeadLetterPath,
    stream: StreamQuery,
    idempotency_key: IdempotencyKey,
) -> Replay:
    await bus.replay(stream, dead_letter_id)
    return Replay(stream=EventStream(stream), replayed=1)


@post(
    "/dead-letters/replay",
    operation_id="replayDeadLetters",
    summary="Deliver every dead letter of a stream again (idempotent)",
    description=(
        "Each dead letter is put back for the group it failed in and removed, as "
        "`replayDeadLetter` does; `replayed` counts them (0 when there were none)."
    ),
    tags=[DEAD_LETTERS_TAG],
    security=requires(OPERATIONS_SCOPE),
    responses=problems(WRITE),
    status_code=202,
    opt=IDEMPOTENT,
)
async def replay_dead_letters(
    bus: Bus, stream: StreamQuery, idempotency_key: IdempotencyKey
) -> Replay:
    return Replay(stream=EventStream(stream), replayed=await bus.replay_all(stream))


@get(
    "/consumer-groups",
    operation_id="listConsumerGroups",
    summary="Pending work per consumer group: pending, lag, consumers, oldest pending age",
    description=(
        "Every consumer group of qgate's streams, whichever replica runs it, with each "
        "stream's length and dead-letter count."
    ),
    tags=[GROUPS_TAG],
    security=requires(OPERATIONS_SCOPE),
    responses=problems(READ),
)
async def list_consumer_groups(bus: Bus) -> ConsumerGroups:
    return ConsumerGroups(
        groups=[GroupView.of(status) for status in await bus.pending()],
        streams=[StreamView.of(status) for status in await bus.streams()],
    )


handlers: Final = [
    list_dead_letters,
    replay_dead_letter,
    replay_dead_letters,
    list_consumer_groups,
    *summary_handlers,
]
