"""What a citizen touches: the citizen blueprint (`views`: questionnaire links /q, counter QR /c,
dossier QR /d, an invitation letter's short link /m, thanks), the form builder (`forms`), the one
reader of a post (`submission`), form tickets that bind a post to its render (`tickets`), quality
flags (`quality`) and abuse limits (`abuse`). Data flows one way: definition → form → validated answers → `survey.responses.store`.
May import the shared base (db, writes, responses, catalog, errors, i18n, security, ratelimit,
models) and the domain modules of registry, qr (counters, dossiers) and sampling (tracking: a sampled
person's dossier link stores source='sample'; shortlinks: a letter's /m link), never their views.
"""
