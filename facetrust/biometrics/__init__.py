"""Pure biometric engine: decode, detect, quality, align, embed, match.

No database and no HTTP here; every other package calls in, never the reverse.
"""

import cv2 as _cv2

# OpenCV's DNN warns on every network load that its new engine ignores target hints; that is noise
# in our logs, not a problem (we run on the CPU by design).
_cv2.utils.logging.setLogLevel(_cv2.utils.logging.LOG_LEVEL_ERROR)
