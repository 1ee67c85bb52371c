"""The dashboard's screens."""

from .cleanup import CleanupScreen
from .dashboard import DashboardScreen
from .help import HelpScreen
from .review import ReviewScreen

__all__ = ["CleanupScreen", "DashboardScreen", "HelpScreen", "ReviewScreen"]
