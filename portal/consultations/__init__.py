"""Consultations: advisory groups, their monthly meetings, invitations and RSVP, attendance,
minutes, and the recommendations and action items tracked across the whole series."""
