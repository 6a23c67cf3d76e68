# On Google Colab, run this cell first; anywhere else it does nothing. It mounts your Google Drive,
# installs the course library from the unzipped a2-student folder there and keeps the data in it.
import sys

FOLDER_IN_MY_DRIVE = "a2-student"  # where that folder is in My Drive, if not at the top

if "google.colab" in sys.modules:
    from google.colab import drive

    drive.mount("/content/drive")
    sys.path.insert(0, f"/content/drive/MyDrive/{FOLDER_IN_MY_DRIVE}")
    try:
        from colab_setup import setup_colab  # colab_setup.py comes with the notebooks
    except ModuleNotFoundError:
        raise FileNotFoundError(
            f"No colab_setup.py in My Drive/{FOLDER_IN_MY_DRIVE}: upload the unzipped a2-student "
            "folder there, or set FOLDER_IN_MY_DRIVE to where it is, then run this cell again."
        ) from None
    setup_colab()
