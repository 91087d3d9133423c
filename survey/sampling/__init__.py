"""Sampling and fieldwork for coordinators (issue #15): the frame of completed dossiers imported
from one-stop software exports (`frames`; on the page as a background job, `frame_jobs`), sample
designs with the size calculator and the allocation preview (`design`), reproducible draws and their verification (`draws`), the fieldwork
list for the post office or phone team with personal single-use links (`fieldwork`), returns
tracking and response rates (`tracking`), paper entry, double entry and phone interviews
(`entry`), the phúc tra re-check subsample (`recheck`), the weighted estimates of a draw and
Neyman allocation's basis (`estimates`, `design`), and the coordinators' pages (`views`, and
`entry_views` for keying, settling, re-checks and interviews: the two modules that define a Blueprint).
May import the shared base (db, models, i18n, errors, sheets, responses), analysis/ (the pure sampling
functions), registry's domain modules, qr's dossier links, the citizen form's reader, tickets and
quality flags (a keyed paper form is read and stored exactly as an online one) and staff's scope,
audit and jobs (who may see personal data, the trail of every view and export of it, and the
background jobs a long frame import runs in). Nothing imports from here
except create_app, the `frame`/`sample` CLI groups, the citizen dossier link (`tracking`: is
this dossier sampled, its `sample_tags`, mark it answered) and the reports dashboard (`estimates`).
"""
