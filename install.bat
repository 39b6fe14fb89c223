@echo off
rem Create .venv in the repo and install ACE-Step Studio's pinned dependencies.
rem   install.bat          the studio
rem   install.bat --dev    the studio and the test tools
rem PyTorch: with an NVIDIA driver, the CUDA build that driver supports; otherwise the CPU build.
setlocal enabledelayedexpansion
cd /d "%~dp0"
set TORCH_VERSION=2.11.0
set TORCHAUDIO_VERSION=2.11.0
set FILES=requirements.txt
if "%~1"=="--dev" set FILES=requirements.txt requirements-dev.txt

if not exist .venv\Scripts\python.exe (
  py -3.11 -m venv .venv 2>nul || python -m venv .venv || (echo Python 3.11+ is required & exit /b 1)
)
set PY=.venv\Scripts\python.exe

rem Idempotent: skip when the requirement files are unchanged since the last install.
set STAMP=
for /f "delims=" %%h in ('type %FILES% install.bat ^| "%PY%" -c "import sys,hashlib;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])"') do set STAMP=.venv\.installed-%%h
if exist "%STAMP%" (
  echo ACE-Step Studio: environment up to date
  exit /b 0
)

rem torch 2.11 on Windows: PyPI has the CPU build; CUDA builds come from PyTorch's index.
set INDEX=
for /f "tokens=1 delims=." %%d in ('nvidia-smi --query-gpu=driver_version --format^=csv^,noheader 2^>nul') do set DRIVER=%%d
if defined DRIVER (
  if !DRIVER! GEQ 580 ( set INDEX=--index-url https://download.pytorch.org/whl/cu130 --extra-index-url https://pypi.org/simple
  ) else if !DRIVER! GEQ 570 ( set INDEX=--index-url https://download.pytorch.org/whl/cu128 --extra-index-url https://pypi.org/simple
  ) else if !DRIVER! GEQ 560 ( set INDEX=--index-url https://download.pytorch.org/whl/cu126 --extra-index-url https://pypi.org/simple
  ) else ( echo NVIDIA driver !DRIVER! is too old for PyTorch %TORCH_VERSION%; update the driver. & exit /b 1 )
  echo NVIDIA driver !DRIVER!: PyTorch CUDA build
)

"%PY%" -m pip install --disable-pip-version-check -q --upgrade pip || exit /b 1
"%PY%" -m pip install --disable-pip-version-check -q %INDEX% torch==%TORCH_VERSION% torchaudio==%TORCHAUDIO_VERSION% || exit /b 1
for %%f in (%FILES%) do (
  "%PY%" -m pip install --disable-pip-version-check -q -r %%f || exit /b 1
)
"%PY%" -m pip check || exit /b 1
del /q .venv\.installed-* 2>nul
type nul > "%STAMP%"
echo ACE-Step Studio: installed into .venv
