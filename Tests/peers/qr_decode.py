"""Decodes QR codes with zxing-cpp, a real decoder, as an authenticator app's camera would.

qr_decode.py CODES.json: a list of codes, each a list of rows of "0"/"1" (dark is 1). Each is drawn
at 4 pixels a module inside a 4-module light quiet zone. Prints a JSON list: the decoded text of
each code, or null when nothing was read.
"""

import json
import sys

import zxingcpp
from PIL import Image

codes = json.load(open(sys.argv[1]))
texts = []
for rows in codes:
    size = len(rows)
    scale, quiet = 4, 4
    side = (size + 2 * quiet) * scale
    image = Image.new("L", (side, side), 255)
    pixels = image.load()
    for y, row in enumerate(rows):
        for x, cell in enumerate(row):
            if cell == "1":
                for dy in range(scale):
                    for dx in range(scale):
                        pixels[(x + quiet) * scale + dx, (y + quiet) * scale + dy] = 0
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    texts.append(found[0].text if found else None)
print(json.dumps(texts))
