"""Admin page: usage, quality and the audit log of read-only views. Admins only."""

from datetime import UTC, date, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from components import state
from components.csv_export import csv_bytes
from components.markup import plain, plain_block
from components.runtime import application_or_stop, current_user_or_stop
from services.admin import RatedReply, UsageReport
from services.errors import NotAnAdmin
from services.views import User

app = application_or_stop()
user = current_user_or_stop(app.settings)
if not user.is_admin:
    # Checked here, not only in the menu: the page is reachable by URL.
    st.error(NotAnAdmin.user_message, icon=":material/lock:")
    st.page_link("app_pages/chat.py", label="Back to your chats", icon=":material/chat:")
    st.stop()

CONVERSATION_PAGE = "app_pages/admin_conversation.py"
state.end_admin_view()


# Figures are SQL aggregates; caching them for a minute keeps reruns of this page cheap.
@st.cache_data(ttl=60, max_entries=32, show_spinner=False)
def _usage(admin_email: str, start: date, end: date) -> UsageReport:
    return app.admin.usage(User(admin_email, is_admin=True), start, end)


@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def _thumbs_down(admin_email: str) -> list[RatedReply]:
    return app.admin.recent_thumbs_down(User(admin_email, is_admin=True))


# Table columns in one number format (thousands separated, as in the metrics), with short headers so
# the models table fits a laptop screen without scrolling sideways.
def _count(label: str) -> ColumnConfig:
    return st.column_config.NumberColumn(label, format="localized", width="small")


def _milliseconds(label: str) -> ColumnConfig:
    return st.column_config.NumberColumn(label, format="%d ms", width="small")


def _share(label: str) -> ColumnConfig:
    return st.column_config.NumberColumn(label, format="percent", width="small")


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value)


st.title("Admin")
today = datetime.now(UTC).date()
chosen = st.date_input(
    "Period",
    value=(today - timedelta(days=29), today),
    max_value=today,
    key="admin-period",
    format="YYYY-MM-DD",
)
if not isinstance(chosen, tuple) or len(chosen) != 2:
    st.info("Choose the last day of the period too.")
    st.stop()
start, end = chosen
report = _usage(user.email, start, end)
totals = report.totals

# -- usage ------------------------------------------------------------------------------------------
st.subheader("Usage")
st.caption(f"{start:%d %b %Y} to {end:%d %b %Y} (UTC). Active users count people who sent a message.")
day_column, week_column, month_column = st.columns(3)
day_column.metric("Active users, last day", report.active.last_day)
week_column.metric("Active users, last 7 days", report.active.last_7_days)
month_column.metric("Active users, last 30 days", report.active.last_30_days)
sessions_column, messages_column, prompt_column, completion_column, errors_column = st.columns(5)
sessions_column.metric("Sessions", f"{totals.sessions:,}")
messages_column.metric("Messages", f"{totals.user_messages:,}")
prompt_column.metric("Prompt tokens", f"{totals.prompt_tokens:,}")
completion_column.metric("Completion tokens", f"{totals.completion_tokens:,}")
errors_column.metric("Errors", f"{totals.errors:,}")

DAILY_COLUMNS = ["day", "messages", "active users", "prompt tokens", "completion tokens"]
daily = pd.DataFrame(
    [
        {
            "day": pd.Timestamp(row.day),
            "messages": row.user_messages,
            "active users": row.active_users,
            "prompt tokens": row.prompt_tokens,
            "completion tokens": row.completion_tokens,
        }
        for row in report.daily
    ],
    columns=DAILY_COLUMNS,
)
# Every day of the period, with zeros where nothing happened: a period with one active day is a bar,
# not an empty chart, and the three charts share their days.
every_day = pd.DataFrame({"day": pd.date_range(start, end, freq="D")})
daily = every_day.merge(daily, on="day", how="left").fillna(0)
for column in DAILY_COLUMNS[1:]:
    daily[column] = daily[column].astype(int)


def _daily_chart(title: str, columns: list[str], *, mark: str) -> None:
    """One chart of `columns` per day, with its figures as the chart's text alternative."""
    total = {column: int(daily[column].sum()) for column in columns}
    busiest = daily.loc[daily[columns].sum(axis=1).idxmax()]
    summary = (
        f"{title}, {start:%d %b} to {end:%d %b %Y}: "
        + ", ".join(f"{total[column]:,} {column} in all" for column in columns)
        + (f"; busiest day {busiest['day']:%d %b}." if sum(total.values()) else "; none in this period.")
    )
    long = daily.melt(id_vars="day", value_vars=columns, var_name="series", value_name="count")
    base = alt.Chart(long, title=alt.Title(title, anchor="start", fontSize=14)).encode(
        x=alt.X("day:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0, tickCount=6)),
        y=alt.Y("count:Q", title=None, axis=alt.Axis(format=",d", tickMinStep=1)),
        color=alt.Color(
            "series:N", title=None, legend=alt.Legend(orient="bottom") if len(columns) > 1 else None
        ),
        tooltip=[alt.Tooltip("day:T", format="%d %b %Y"), "series:N", alt.Tooltip("count:Q", format=",d")],
    )
    chart = base.mark_bar() if mark == "bar" else base.mark_line(point=True)
    # The chart as a whole carries the summary; its marks are not separate images to a screen reader.
    # Height is the plot's own ("fit-x" sizes only the width to the column): the legend of a chart of
    # two series then adds to the chart instead of squeezing its plot, and the three plots line up.
    st.altair_chart(
        chart.properties(
            height=160, description=summary, autosize=alt.AutoSizeParams(type="fit-x", contains="padding")
        )
        .configure_mark(aria=False)
        .configure_axis(aria=False),
        width="stretch",
    )
    st.caption(summary)


messages_chart, users_chart, tokens_chart = st.columns(3)
with messages_chart:
    _daily_chart("Messages per day", ["messages"], mark="bar")
with users_chart:
    _daily_chart("Active users per day", ["active users"], mark="line")
with tokens_chart:
    _daily_chart("Tokens per day", ["prompt tokens", "completion tokens"], mark="bar")

st.subheader("Models")
models = pd.DataFrame(
    [
        {
            "endpoint": m.model,
            "requests": m.requests,
            "prompt tokens": m.prompt_tokens,
            "completion tokens": m.completion_tokens,
            "first token p50 (ms)": _ms(m.ttft_p50_ms),
            "first token p95 (ms)": _ms(m.ttft_p95_ms),
            "latency p50 (ms)": _ms(m.latency_p50_ms),
            "latency p95 (ms)": _ms(m.latency_p95_ms),
            "error rate": m.error_rate,
            "thumbs-up rate": m.thumbs_up_rate,
            "ratings": m.ratings,
        }
        for m in report.models
    ]
)
st.dataframe(
    models,
    hide_index=True,
    key="admin-models",
    column_config={
        "endpoint": st.column_config.TextColumn("Endpoint", width="medium"),
        "requests": _count("Requests"),
        "prompt tokens": _count("Prompt tokens"),
        "completion tokens": _count("Completion tokens"),
        "first token p50 (ms)": _milliseconds("First token p50"),
        "first token p95 (ms)": _milliseconds("First token p95"),
        "latency p50 (ms)": _milliseconds("Latency p50"),
        "latency p95 (ms)": _milliseconds("Latency p95"),
        "error rate": _share("Errors"),
        "thumbs-up rate": _share("Thumbs up"),
        "ratings": _count("Ratings"),
    },
)
st.download_button(
    "Download models as CSV", csv_bytes(models), "models.csv", "text/csv", on_click="ignore", key="csv-models"
)

st.subheader("Top users")
top_users = pd.DataFrame(
    [{"user": u.user_id, "messages": u.user_messages, "tokens": u.tokens} for u in report.top_users],
    columns=["user", "messages", "tokens"],
)
st.dataframe(
    top_users,
    hide_index=True,
    key="admin-top-users",
    column_config={"messages": _count("Messages"), "tokens": _count("Tokens")},
)
st.download_button(
    "Download top users as CSV",
    csv_bytes(top_users),
    "top-users.csv",
    "text/csv",
    on_click="ignore",
    key="csv-users",
)

# -- quality ----------------------------------------------------------------------------------------
st.subheader("Thumbs down")
thumbs_down = _thumbs_down(user.email)
if not thumbs_down:
    st.caption("No reply has been rated thumbs down.")
for reply in thumbs_down:
    with st.container(border=True):
        st.markdown(f"**{plain(reply.session_title)}** · {plain(reply.model or 'unknown model')}")
        st.caption(
            f"Rated by {plain(reply.rated_by)} · {reply.rated_at:%d %b %Y %H:%M} UTC · "
            f"chat of {plain(reply.owner_id)}"
        )
        st.text(reply.reply_preview)
        if reply.comment:
            st.markdown(plain_block(reply.comment))
        st.page_link(
            CONVERSATION_PAGE,
            label="Open the conversation (read-only, recorded in the audit log)",
            query_params={"session": reply.session_id, "reply": str(reply.message_id)},
            icon=":material/visibility:",
        )

# -- audit --------------------------------------------------------------------------------------------
st.subheader("Audit log")
st.caption("Every time an admin opened someone's conversation.")
audit = pd.DataFrame(
    [
        {
            "when (UTC)": entry.viewed_at,
            "admin": entry.admin_id,
            "owner": entry.owner_id,
            "chat": entry.session_title,
            "session id": str(entry.session_id),
        }
        for entry in app.admin.audit_log(user)
    ],
    columns=["when (UTC)", "admin", "owner", "chat", "session id"],
)
st.dataframe(audit, hide_index=True, key="admin-audit")
