"""QR codes and what they open: counter codes and their images (`codes`), single-use signed
dossier links (`dossiers`), units' API keys and HMAC secrets (`credentials`), printable posters
(`posters`) and the minting API for one-stop software (`api`, the machine clients' blueprint).
May import the shared base and registry's domain modules; nothing here imports a view.
"""
