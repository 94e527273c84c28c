"""Data code: page files and archives, the unpaired DataModule, the synthetic set. Knows nothing of models."""

import cv2

# OpenCV's thread pool does not survive fork(): a DataLoader worker forked after the parent process used it
# (a resize during validation, say) can hang forever inside OpenCV. Parallelism comes from worker processes.
cv2.setNumThreads(0)
