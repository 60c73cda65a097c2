"""Reviews: draft documents in numbered versions, review rounds sent to thousands of partners,
paragraph-level comments, staff dispositions, the comment matrix, and carrying comments onto
the next version."""
