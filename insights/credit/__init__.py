"""Complaint credit grading (投诉客户信用分级): grades, escalation risk, potential complainants, triage.

The grade supports differentiated service; it is not a blacklist (see ``scorecard``).
"""

from __future__ import annotations

from insights.credit.grading import CustomerGrade, grade_customer
from insights.credit.scorecard import Scorecard, load_scorecard

__all__ = ["CustomerGrade", "Scorecard", "grade_customer", "load_scorecard"]
