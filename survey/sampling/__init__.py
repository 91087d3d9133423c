"""Sampling and fieldwork for coordinators (issue #15): the frame of completed dossiers imported
from one-stop software exports (`frames`), sample designs with the size calculator and the
allocation preview (`design`), reproducible draws and their verification (`draws`), the fieldwork
list for the post office or phone team with personal single-use links (`fieldwork`), returns
tracking and response rates (`tracking`), and the coordinators' pages (`views`, the only module here that defines a Blueprint).
May import the shared base (db, models, i18n, errors, sheets), analysis/ (the pure sampling
functions), registry's domain modules, qr's dossier links and staff's scope and audit (who may
see personal data, and the trail of every view and export of it). Nothing imports from here
except create_app, the `frame`/`sample` CLI groups, and the citizen dossier link (`tracking`: is
this dossier sampled, mark it answered).
"""
