"""Facilitators' meetings, attendance, and disclosure-controlled attendance reports. No Qt here.

``store`` keeps meetings, people, marks and check-ins in the vault; ``report`` computes exact counts (pure);
``disclosure`` publishes them under a profile with complementary suppression checked by ``solver``; ``dp``
adds OpenDP integer noise instead; ``ledger`` remembers every release; ``engine`` puts a report together;
``output`` writes CSV and JSON. See docs/attendance.md.
"""
