; Inno Setup script for the Windows installer. Built by `python packaging\build.py --installer`,
; which passes /DAppVersion=<version> /DSourceDir=<dist\Reelsmith> /DOutputDir=<dist>.
; Per-user install by default (no admin rights needed); "Install for all users" asks for them.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\Reelsmith"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif

[Setup]
AppId={{8C3F6A52-4E0B-4B7A-9A6E-2F1D7C5B9E41}
AppName=Reelsmith
AppVersion={#AppVersion}
AppPublisher=Reelsmith
DefaultDirName={autopf}\Reelsmith
DefaultGroupName=Reelsmith
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename=Reelsmith-{#AppVersion}-windows-x64-setup
SetupIconFile={#SourceDir}\..\..\packaging\build\icons\reelsmith.ico
UninstallDisplayIcon={app}\Reelsmith.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
LicenseFile=..\..\LICENSE
ChangesAssociations=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add reelsmith-cli to PATH (command line use)"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Reelsmith"; Filename: "{app}\Reelsmith.exe"
Name: "{group}\Uninstall Reelsmith"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Reelsmith"; Filename: "{app}\Reelsmith.exe"; Tasks: desktopicon

[Registry]
; "Open with Reelsmith" for JSON files, without taking the .json default away from other editors.
Root: HKA; Subkey: "Software\Classes\Applications\Reelsmith.exe\shell\open\command"; ValueType: string; ValueData: """{app}\Reelsmith.exe"" studio ""%1"""; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\.json\OpenWithList\Reelsmith.exe"; ValueType: string; ValueData: ""; Flags: uninsdeletekey
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\Reelsmith.exe"; Description: "{cm:LaunchProgram,Reelsmith}"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Paths: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Paths) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;
