"""A buyer list's lines and new buyers, written set-based: one INSERT … SELECT FROM unnest per
group, each column a bound array. (COPY would be faster still, but PostgreSQL refuses COPY FROM
into a table under row-level security, and study lines are.)"""

from __future__ import annotations

from typing import Final

from studies.models import StudyLine
from underwriting.models import Buyer

# Only model table names are interpolated below; every value is a bound parameter.
INSERT_LINES: Final = f"""
INSERT INTO {StudyLine._meta.db_table}
       (id, policyholder_id, study_id, line_number, identifier, name, exposure, primary_amount,
        requested_top_up, verdict, errors, buyer_id, grade, max_top_up, proposed_top_up,
        proposal_reason, adjusted_top_up, adjustment_reason, adjusted_by_id)
SELECT gen_random_uuid(), %(policyholder)s, %(study)s, u.line_number, u.identifier, u.name,
       u.exposure, u.primary_amount, u.requested_top_up, u.verdict, u.errors::jsonb, u.buyer_id,
       u.grade, u.max_top_up, u.proposed_top_up, u.proposal_reason, NULL, '', NULL
  FROM unnest(%(line_number)s::integer[], %(identifier)s::text[], %(name)s::text[],
              %(exposure)s::numeric[], %(primary_amount)s::numeric[],
              %(requested_top_up)s::numeric[], %(verdict)s::text[], %(errors)s::text[],
              %(buyer_id)s::uuid[], %(grade)s::integer[], %(max_top_up)s::numeric[],
              %(proposed_top_up)s::numeric[], %(proposal_reason)s::text[])
       AS u (line_number, identifier, name, exposure, primary_amount, requested_top_up, verdict,
             errors, buyer_id, grade, max_top_up, proposed_top_up, proposal_reason)
"""  # noqa: S608

# New buyers of the global registry; one added meanwhile by someone else is left as it is.
INSERT_BUYERS: Final = f"""
INSERT INTO {Buyer._meta.db_table}
       (id, siren, vat_number, country, name, city, grade, proceedings, created_at)
SELECT gen_random_uuid(), u.siren, u.vat_number, u.country, u.name, '', %(grade)s, 'none', now()
  FROM unnest(%(siren)s::text[], %(vat_number)s::text[], %(country)s::text[], %(name)s::text[])
       AS u (siren, vat_number, country, name)
ON CONFLICT DO NOTHING
"""  # noqa: S608
