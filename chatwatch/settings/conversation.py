"""Conversation rules: deadlines, lateness and how long a conversation's state is kept."""

from __future__ import annotations

from pydantic import Field

from chatwatch.settings.base import SettingsPart


class ConversationSettings(SettingsPart):
    """Conversation rules: when deadlines are judged, how late a message may be, how long state is kept (`streams/agents/conversation.py`)."""

    conversation_tick_s: float = Field(1.0, gt=0, description="How often conversation deadlines (absences: "
                                       "'no reply within 15 minutes') are checked.")
    conversation_idle_grace_s: float = Field(30.0, ge=0, description="While messages flow, deadlines follow the "
                                             "newest message time of their partition (a backlog replayed after an "
                                             "outage, or a history import, cannot fire an absence its own later "
                                             "messages meet); after this many quiet seconds, the wall clock, but no "
                                             "further than the time up to which normalize and scan have read "
                                             "everything received (a backlog or a stage still starting holds quiet "
                                             "absences: `chatwatch_conversation_upstream_behind_seconds`).")
    conversation_lateness_s: float = Field(60.0, ge=0, description="How late (in message time) a message may "
                                           "arrive and still count in its place: a conversation's last 12 messages "
                                           "are kept, a late one is played again among them, and conversation alerts "
                                           "are held this long (while messages flow; the wall clock decides once the "
                                           "partition is quiet), so what goes out is what the conversation in "
                                           "written order raises; 0: sent at once.")
    conversation_idle_days: float = Field(8.0, gt=0, description="A conversation's rule state is dropped after this "
                                          "long without a message (keep it longer than the longest rule window).")
